import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

const BODY = JSON.stringify({
  error: { code: 'UNAVAILABLE', message: 'this replica is draining; connect to another one' },
});

/**
 * Refuses new Socket.IO connections with 503 while `refuse()` is true, before
 * Engine.IO sees them. Engine.IO's own hooks (allowRequest, middlewares) can
 * only answer 400/403 or drop an upgrade, and a load balancer or client needs
 * the 503 to know to go elsewhere. Must be installed after Socket.IO attached
 * its listeners, which it wraps.
 */
export function installDrainGate(http: HttpServer, path: string, refuse: () => boolean): void {
  const requestListeners = http.listeners('request') as ((
    req: IncomingMessage,
    res: ServerResponse,
  ) => void)[];
  http.removeAllListeners('request');
  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (refuse() && req.url?.startsWith(path)) {
      res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '1' });
      res.end(BODY);
      return;
    }
    for (const listener of requestListeners) listener.call(http, req, res);
  });

  const upgradeListeners = http.listeners('upgrade') as ((
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ) => void)[];
  http.removeAllListeners('upgrade');
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (refuse() && req.url?.startsWith(path)) {
      socket.end(
        `HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/json\r\n` +
          `Retry-After: 1\r\nContent-Length: ${Buffer.byteLength(BODY)}\r\n\r\n${BODY}`,
      );
      return;
    }
    for (const listener of upgradeListeners) listener.call(http, req, socket, head);
  });
}
