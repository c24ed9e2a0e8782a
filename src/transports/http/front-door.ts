import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * One route served ahead of Express and Engine.IO. Each method returns true
 * when it took the request (answering it, or calling `pass` later to let it
 * through after all), false to let it go on at once.
 */
export interface FrontRoute {
  request?: (req: IncomingMessage, res: ServerResponse, pass: () => void) => boolean;
  upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer, pass: () => void) => boolean;
}

/** Sets the security headers every answer carries (helmet's middleware, as Express runs it). */
export type HeaderMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void;

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;
type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * The HTTP server's listeners, taken over once: routes that must answer
 * before the framework does (the publish hot path, the gate that refuses new
 * Socket.IO connections with a real status) come first, in the order they
 * were added; everything else goes on to the listeners that were there
 * (Express with Nest, Engine.IO), untouched. Installed once, after those
 * attached, so the outcome never depends on who wrapped whom.
 */
export class FrontDoor {
  private readonly routes: FrontRoute[] = [];
  private installed = false;

  constructor(private readonly headers?: HeaderMiddleware) {}

  add(route: FrontRoute): void {
    if (this.installed) throw new Error('front door routes are added before it is installed');
    this.routes.push(route);
  }

  install(http: HttpServer): void {
    if (this.installed) throw new Error('the front door is installed once');
    this.installed = true;
    const onRequest = http.listeners('request') as RequestListener[];
    const onUpgrade = http.listeners('upgrade') as UpgradeListener[];
    http.removeAllListeners('request');
    http.removeAllListeners('upgrade');
    const requestRoutes = this.routes.filter((r) => r.request);
    const upgradeRoutes = this.routes.filter((r) => r.upgrade);
    const headers = this.headers;
    http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const pass = () => {
        for (const listener of onRequest) listener.call(http, req, res);
      };
      for (const route of requestRoutes) {
        // Security headers on what the front door itself answers; passed
        // requests get them from Express's own middleware.
        if (route.request!(req, res, pass)) return headers?.(req, res, () => undefined);
      }
      pass();
    });
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const pass = () => {
        for (const listener of onUpgrade) listener.call(http, req, socket, head);
      };
      for (const route of upgradeRoutes) if (route.upgrade!(req, socket, head, pass)) return;
      pass();
    });
  }
}
