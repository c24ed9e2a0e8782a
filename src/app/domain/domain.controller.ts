import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import type { Response } from 'express';
import type { WriteOutcome } from '../../core/idempotency.js';
import { RateLimits } from '../../delivery/sessions/rate-limits.js';
import { etag, writeConditions } from '../../transports/http/write-headers.js';
import { DomainWrites, type WriteOptions } from './domain-writes.js';
import { requireProject } from '../../delivery/auth/access.js';
import { HttpAuthGuard, type AuthedRequest } from '../../transports/http/http-auth.guard.js';
import { GatewayError } from '../../core/errors.js';
import { isId } from '../../core/ids.js';
import { validateDto } from '../../core/support/validate-dto.js';
import { AgentsService } from './agents/agents.service.js';
import {
  CompleteRunDto,
  CreateSubtaskDto,
  CreateTaskDto,
  FailRunDto,
  LogLineDto,
  MoveSubtaskDto,
  MoveTaskDto,
  StartRunDto,
} from './dto.js';
import { SystemResourceSampled } from '../../core/payloads.js';
import { ResourcesService } from './resources/resources.service.js';
import { TasksService } from './tasks/tasks.service.js';

const PUBLISH = 'events:publish';

/**
 * REST endpoints that drive the example domain; each change is published as
 * events. Every write takes `If-Match` / `If-None-Match` (the version of the
 * entity it is about) and `Idempotency-Key`, answers with the entity's new
 * version (also as `ETag`), and is rate limited as a publish; reads are
 * rate limited as reads and answer with `ETag`.
 */
@Controller('api/projects/:projectId')
@UseGuards(HttpAuthGuard)
export class DomainController {
  constructor(
    @Inject(TasksService) private readonly tasks: TasksService,
    @Inject(AgentsService) private readonly agents: AgentsService,
    @Inject(ResourcesService) private readonly resources: ResourcesService,
    @Inject(DomainWrites) private readonly writes: DomainWrites,
    @Inject(RateLimits) private readonly rateLimits: RateLimits,
  ) {}

  @Get('tasks')
  async list(@Req() req: AuthedRequest, @Param('projectId') p: string) {
    return this.tasks.listTasks(await this.reader(req, p));
  }

  @Get('tasks/:taskId')
  async getTask(
    @Req() req: AuthedRequest,
    @Res({ passthrough: true }) res: Response,
    @Param('projectId') p: string,
    @Param('taskId') t: string,
  ) {
    const task = await this.tasks.getTask(await this.reader(req, p), id(t));
    res.setHeader('ETag', etag(task.version));
    return task;
  }

  /**
   * Any entity of the snapshot by its key (`task:t1`, `run:r1`, `host:h1`...):
   * its latest event, and its version as `ETag`, for producers that publish
   * conditionally through the publish API.
   */
  @Get('entities/:entityKey')
  async entity(
    @Req() req: AuthedRequest,
    @Res({ passthrough: true }) res: Response,
    @Param('projectId') p: string,
    @Param('entityKey') key: string,
  ) {
    if (!ENTITY_KEY.test(key)) {
      throw new GatewayError('INVALID_PAYLOAD', 'an entity key is <kind>:<id>, e.g. task:t1', [
        { path: 'entityKey', problem: 'must be <kind>:<id>' },
      ]);
    }
    const projectId = await this.reader(req, p);
    const [event] = await this.writes.read(projectId, [key]);
    if (!event) throw new GatewayError('NOT_FOUND', `no entity ${key} in project ${projectId}`);
    res.setHeader('ETag', etag(event.id));
    return { entityKey: key, version: event.id, event };
  }

  @Post('tasks')
  @HttpCode(201)
  createTask(
    @Req() req: AuthedRequest,
    @Res({ passthrough: true }) res: Response,
    @Param('projectId') p: string,
    @Body() body: unknown,
  ) {
    return this.write(
      req,
      res,
      p,
      body,
      (projectId, options) => {
        const dto = validateDto(CreateTaskDto, body ?? {}, 'body');
        return this.tasks.createTask(projectId, dto.taskId, options);
      },
      (a, ids) => ({ ...a, version: ids[0] }),
    );
  }

  @Post('tasks/:taskId/status')
  @HttpCode(200)
  moveTask(
    @Req() req: AuthedRequest,
    @Res({ passthrough: true }) res: Response,
    @Param('projectId') p: string,
    @Param('taskId') t: string,
    @Body() body: unknown,
  ) {
    return this.write(
      req,
      res,
      p,
      body,
      (projectId, options) => {
        const dto = validateDto(MoveTaskDto, body, 'body');
        return this.tasks.moveTask(projectId, id(t), dto.to, options);
      },
      (a, ids) => ({ ok: true, ...a, version: ids[0] }),
    );
  }

  @Post('tasks/:taskId/subtasks')
  @HttpCode(201)
  addSubtask(
    @Req() req: AuthedRequest,
    @Res({ passthrough: true }) res: Response,
    @Param('projectId') p: string,
    @Param('taskId') t: string,
    @Body() body: unknown,
  ) {
    return this.write(
      req,
      res,
      p,
      body,
      (projectId, options) => {
        const dto = validateDto(CreateSubtaskDto, body, 'body');
        return this.tasks.addSubtask(projectId, id(t), dto.subtaskId, dto.dependsOn, options);
      },
      (a, ids) => ({ ...a, version: ids[0] }),
    );
  }

  @Post('tasks/:taskId/subtasks/:subtaskId/status')
  @HttpCode(200)
  moveSubtask(
    @Req() req: AuthedRequest,
    @Res({ passthrough: true }) res: Response,
    @Param('projectId') p: string,
    @Param('taskId') t: string,
    @Param('subtaskId') s: string,
    @Body() body: unknown,
  ) {
    return this.write(
      req,
      res,
      p,
      body,
      (projectId, options) => {
        const dto = validateDto(MoveSubtaskDto, body, 'body');
        return this.tasks.moveSubtask(projectId, id(t), id(s), dto.to, options);
      },
      (a, ids) => ({ ok: true, ...a, version: ids[0] }),
    );
  }

  @Post('agents/:agentId/runs')
  @HttpCode(201)
  startRun(
    @Req() req: AuthedRequest,
    @Res({ passthrough: true }) res: Response,
    @Param('projectId') p: string,
    @Param('agentId') a: string,
    @Body() body: unknown,
  ) {
    return this.write(
      req,
      res,
      p,
      body,
      (projectId, options) => {
        const dto = validateDto(StartRunDto, body, 'body');
        return this.agents.startRun(projectId, { ...dto, agentId: id(a) }, options);
      },
      (answer, ids) => ({ ...answer, version: ids[1] }),
    );
  }

  @Post('runs/:runId/logs')
  @HttpCode(201)
  log(
    @Req() req: AuthedRequest,
    @Res({ passthrough: true }) res: Response,
    @Param('projectId') p: string,
    @Param('runId') r: string,
    @Body() body: unknown,
  ) {
    return this.write(
      req,
      res,
      p,
      body,
      (projectId, options) => {
        const dto = validateDto(LogLineDto, body, 'body');
        return this.agents.log(projectId, id(r), dto.line, dto.level, options);
      },
      (a, ids) => ({ ...a, id: ids[0] }),
    );
  }

  @Post('runs/:runId/complete')
  @HttpCode(200)
  complete(
    @Req() req: AuthedRequest,
    @Res({ passthrough: true }) res: Response,
    @Param('projectId') p: string,
    @Param('runId') r: string,
    @Body() body: unknown,
  ) {
    return this.write(
      req,
      res,
      p,
      body,
      (projectId, options) => {
        const dto = validateDto(CompleteRunDto, body ?? {}, 'body');
        return this.agents.complete(projectId, id(r), dto.prUrl, options);
      },
      (a, ids) => ({ ok: true, ...a, version: ids[0] }),
    );
  }

  @Post('runs/:runId/fail')
  @HttpCode(200)
  fail(
    @Req() req: AuthedRequest,
    @Res({ passthrough: true }) res: Response,
    @Param('projectId') p: string,
    @Param('runId') r: string,
    @Body() body: unknown,
  ) {
    return this.write(
      req,
      res,
      p,
      body,
      (projectId, options) => {
        const dto = validateDto(FailRunDto, body, 'body');
        return this.agents.fail(projectId, id(r), dto.error, dto.willRetry, options);
      },
      (a, ids) => ({ ok: true, ...a, version: ids[0] }),
    );
  }

  @Post('resources/samples')
  @HttpCode(202)
  sample(
    @Req() req: AuthedRequest,
    @Res({ passthrough: true }) res: Response,
    @Param('projectId') p: string,
    @Body() body: unknown,
  ) {
    return this.write(
      req,
      res,
      p,
      body,
      (projectId, options) => {
        const dto = validateDto(SystemResourceSampled, body, 'body');
        return this.resources.record(projectId, { ...dto }, options);
      },
      (a, ids) => ({ ...a, id: ids[0], version: ids[0] }),
    );
  }

  /** Project access and the read rate limit, before any read. */
  private async reader(req: AuthedRequest, p: string): Promise<string> {
    const projectId = requireProject(req.principal, p);
    await this.rateLimits.requireToken('read', req.principal);
    return projectId;
  }

  /**
   * One write, the same for every route: access, the publish rate limit, the
   * write's headers; then the response, a pure function of what the write
   * answered and its events' ids, so a replay answers exactly as the first.
   */
  private async write<A, R extends { version?: string; id?: string }>(
    req: AuthedRequest,
    res: Response,
    p: string,
    body: unknown,
    perform: (projectId: string, options: WriteOptions) => Promise<WriteOutcome<A>>,
    respond: (answer: A, ids: readonly string[]) => R,
  ): Promise<R> {
    const projectId = requireProject(req.principal, p, PUBLISH);
    await this.rateLimits.requireToken('publish', req.principal);
    const options = writeConditions(req.headers, req.principal.sub, {
      method: req.method,
      path: req.path,
      body,
    });
    const outcome = await perform(projectId, options);
    const answer = respond(outcome.answer, outcome.ids);
    if (answer.version !== undefined) res.setHeader('ETag', etag(answer.version));
    if (outcome.replayed) res.setHeader('Idempotent-Replayed', 'true');
    return answer;
  }
}

/** `<kind>:<id>`, as the registry names entities. */
const ENTITY_KEY = /^[a-z]{1,32}:[A-Za-z0-9_.:-]{1,255}$/;

function id(value: string): string {
  if (!isId(value))
    throw new GatewayError(
      'INVALID_PAYLOAD',
      `${JSON.stringify(String(value).slice(0, 80))} is not a valid id`,
    );
  return value;
}
