import { Controller, Get, Header, Inject } from '@nestjs/common';
import { signDevToken } from '../../delivery/auth/dev-token.js';
import { GatewayError } from '../../core/errors.js';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { DEMO_OPERATOR, DEMO_PROJECTS } from './simulator.js';

/** In DEMO mode, a development operator token for the dashboard (served at `/` from dist/dashboard). */
@Controller()
export class DemoController {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** DEMO only: a development token (generated secret; views the demo projects, may command their agents). */
  @Get('demo/session')
  @Header('Cache-Control', 'no-store')
  async session(): Promise<{ token: string; projects: string[] }> {
    const token = this.config.demo
      ? await signDevToken(this.config.jwt, DEMO_OPERATOR, 12 * 3600)
      : null;
    if (!token) throw new GatewayError('NOT_FOUND', 'no demo session: start with DEMO=1');
    return { token, projects: DEMO_PROJECTS };
  }
}
