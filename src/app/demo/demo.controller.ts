import {
  Body,
  Controller,
  Get,
  Header,
  Inject,
  Optional,
  Put,
  Req,
  UseGuards,
} from '@nestjs/common';
import { IsInt, Max, Min } from 'class-validator';
import { signDevToken } from '../../delivery/auth/dev-token.js';
import { requireProject } from '../../delivery/auth/access.js';
import { GatewayError } from '../../core/errors.js';
import { validateDto } from '../../core/support/validate-dto.js';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { HttpAuthGuard, type AuthedRequest } from '../../transports/http/http-auth.guard.js';
import { DEMO_OPERATOR, DEMO_PROJECTS, DemoSimulator, MAX_DEMO_LOAD } from './simulator.js';

/** `PUT /demo/load`: extra events per second per demo project, on top of the simulator's own. */
class DemoLoad {
  @IsInt() @Min(0) @Max(MAX_DEMO_LOAD) eventsPerSecond: number;
}

/** In DEMO mode, a development operator token for the dashboard (served at `/` from dist/dashboard). */
@Controller('demo')
export class DemoController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Optional() @Inject(DemoSimulator) private readonly simulator: DemoSimulator | null,
  ) {}

  /**
   * DEMO only: a development token (generated secret; views the demo
   * projects, may command their agents), and the demo's extra load. The
   * page asks again for a fresh token whenever the gateway refuses its own
   * (a restarted demo has a new secret).
   */
  @Get('session')
  @Header('Cache-Control', 'no-store')
  async session(): Promise<{ token: string; projects: string[]; load: number | null }> {
    const token = this.config.demo
      ? await signDevToken(this.config.jwt, DEMO_OPERATOR, 12 * 3600)
      : null;
    if (!token) throw new GatewayError('NOT_FOUND', 'no demo session: start with DEMO=1');
    return { token, projects: DEMO_PROJECTS, load: this.simulator?.load ?? null };
  }

  /** Turns the demo's extra event rate up or down (0 to `MAX_DEMO_LOAD` per project). */
  @Put('load')
  @UseGuards(HttpAuthGuard)
  setLoad(@Req() req: AuthedRequest, @Body() body: unknown): { eventsPerSecond: number } {
    requireProject(req.principal, DEMO_PROJECTS[0]);
    if (!this.simulator) throw new GatewayError('NOT_FOUND', 'the demo simulator is not running');
    const { eventsPerSecond } = validateDto(DemoLoad, body ?? {}, 'body');
    this.simulator.setLoad(eventsPerSecond);
    return { eventsPerSecond };
  }
}
