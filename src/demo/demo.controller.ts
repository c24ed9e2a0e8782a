import { Controller, Get, Header, Inject } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { signDevToken } from '../auth/dev-token.js';
import { GatewayError } from '../common/errors.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { DEMO_PROJECTS } from './simulator.js';

// Copied next to the compiled controller by `npm run build`.
const PAGE_PATH = fileURLToPath(new URL('./public/index.html', import.meta.url));

/** The plain live page at `/`, and in DEMO mode a development viewer token for it. */
@Controller()
export class DemoController {
  private readonly page: string;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.page = readFileSync(PAGE_PATH, 'utf8');
  }

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  index(): string {
    return this.page;
  }

  /** DEMO only: a development token (generated secret, viewer of the demo projects). */
  @Get('demo/session')
  @Header('Cache-Control', 'no-store')
  session(): { token: string; projects: string[] } {
    const token = this.config.demo
      ? signDevToken(this.config.jwt, { sub: 'demo-viewer', projects: DEMO_PROJECTS }, 12 * 3600)
      : null;
    if (!token) throw new GatewayError('NOT_FOUND', 'no demo session: start with DEMO=1');
    return { token, projects: DEMO_PROJECTS };
  }
}
