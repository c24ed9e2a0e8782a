import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Req,
  UseGuards,
} from '@nestjs/common';
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

/** REST endpoints that drive the example domain; each change is published as events. */
@Controller('api/projects/:projectId')
@UseGuards(HttpAuthGuard)
export class DomainController {
  constructor(
    @Inject(TasksService) private readonly tasks: TasksService,
    @Inject(AgentsService) private readonly agents: AgentsService,
    @Inject(ResourcesService) private readonly resources: ResourcesService,
  ) {}

  @Get('tasks')
  list(@Req() req: AuthedRequest, @Param('projectId') p: string) {
    return this.tasks.listTasks(requireProject(req.principal, p));
  }

  @Post('tasks')
  @HttpCode(201)
  async createTask(
    @Req() req: AuthedRequest,
    @Param('projectId') p: string,
    @Body() body: unknown,
  ) {
    const dto = validateDto(CreateTaskDto, body ?? {}, 'body');
    const task = await this.tasks.createTask(requireProject(req.principal, p, PUBLISH), dto.taskId);
    return { taskId: task.id, status: task.status };
  }

  @Post('tasks/:taskId/status')
  @HttpCode(200)
  async moveTask(
    @Req() req: AuthedRequest,
    @Param('projectId') p: string,
    @Param('taskId') t: string,
    @Body() body: unknown,
  ) {
    const dto = validateDto(MoveTaskDto, body, 'body');
    await this.tasks.moveTask(requireProject(req.principal, p, PUBLISH), id(t), dto.to);
    return { ok: true };
  }

  @Post('tasks/:taskId/subtasks')
  @HttpCode(201)
  async addSubtask(
    @Req() req: AuthedRequest,
    @Param('projectId') p: string,
    @Param('taskId') t: string,
    @Body() body: unknown,
  ) {
    const dto = validateDto(CreateSubtaskDto, body, 'body');
    const s = await this.tasks.addSubtask(
      requireProject(req.principal, p, PUBLISH),
      id(t),
      dto.subtaskId,
      dto.dependsOn,
    );
    return { subtaskId: s.id, status: s.status };
  }

  @Post('tasks/:taskId/subtasks/:subtaskId/status')
  @HttpCode(200)
  async moveSubtask(
    @Req() req: AuthedRequest,
    @Param('projectId') p: string,
    @Param('taskId') t: string,
    @Param('subtaskId') s: string,
    @Body() body: unknown,
  ) {
    const dto = validateDto(MoveSubtaskDto, body, 'body');
    await this.tasks.moveSubtask(requireProject(req.principal, p, PUBLISH), id(t), id(s), dto.to);
    return { ok: true };
  }

  @Post('agents/:agentId/runs')
  @HttpCode(201)
  async startRun(
    @Req() req: AuthedRequest,
    @Param('projectId') p: string,
    @Param('agentId') a: string,
    @Body() body: unknown,
  ) {
    const dto = validateDto(StartRunDto, body, 'body');
    const run = await this.agents.startRun(requireProject(req.principal, p, PUBLISH), {
      ...dto,
      agentId: id(a),
    });
    return { runId: run.runId };
  }

  @Post('runs/:runId/logs')
  @HttpCode(201)
  async log(
    @Req() req: AuthedRequest,
    @Param('projectId') p: string,
    @Param('runId') r: string,
    @Body() body: unknown,
  ) {
    const dto = validateDto(LogLineDto, body, 'body');
    return {
      lineNumber: await this.agents.log(
        requireProject(req.principal, p, PUBLISH),
        id(r),
        dto.line,
        dto.level,
      ),
    };
  }

  @Post('runs/:runId/complete')
  @HttpCode(200)
  async complete(
    @Req() req: AuthedRequest,
    @Param('projectId') p: string,
    @Param('runId') r: string,
    @Body() body: unknown,
  ) {
    const dto = validateDto(CompleteRunDto, body ?? {}, 'body');
    await this.agents.complete(requireProject(req.principal, p, PUBLISH), id(r), dto.prUrl);
    return { ok: true };
  }

  @Post('runs/:runId/fail')
  @HttpCode(200)
  async fail(
    @Req() req: AuthedRequest,
    @Param('projectId') p: string,
    @Param('runId') r: string,
    @Body() body: unknown,
  ) {
    const dto = validateDto(FailRunDto, body, 'body');
    await this.agents.fail(
      requireProject(req.principal, p, PUBLISH),
      id(r),
      dto.error,
      dto.willRetry,
    );
    return { ok: true };
  }

  @Post('resources/samples')
  @HttpCode(202)
  async sample(@Req() req: AuthedRequest, @Param('projectId') p: string, @Body() body: unknown) {
    const dto = validateDto(SystemResourceSampled, body, 'body');
    const e = await this.resources.record(requireProject(req.principal, p, PUBLISH), { ...dto });
    return { id: e.id };
  }
}

function id(value: string): string {
  if (!isId(value))
    throw new GatewayError(
      'INVALID_PAYLOAD',
      `${JSON.stringify(String(value).slice(0, 80))} is not a valid id`,
    );
  return value;
}
