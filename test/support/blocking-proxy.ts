import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { listenLocally, localUrl } from './free-port.js';

/**
 * A reverse proxy in front of one replica that can block WebSocket upgrades
 * and SSE requests, as corporate proxies do, to drive a client's fallbacks.
 */
export class BlockingProxy {
  blockWebSocket = false;
  blockSse = false;
  private readonly sockets = new Set<Duplex>();

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
  ) {}

  static async start(targetUrl: string): Promise<BlockingProxy> {
    const server = createServer();
    const proxy = new BlockingProxy(server, new URL(targetUrl));
    server.on('request', (req, res) => {
      const isSse =
        req.method === 'GET' && /^\/api\/projects\/[^/]+\/events(\?|$)/.test(req.url ?? '');
      if (proxy.blockSse && isSse) {
        res.writeHead(403).end('blocked by proxy');
        return;
      }
      const upstream = request(
        {
          host: proxy.target.hostname,
          port: proxy.target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (upstreamRes) => {
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          upstreamRes.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (proxy.blockWebSocket) {
        socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
        return;
      }
      const upstream = connect(Number(proxy.target.port), proxy.target.hostname, () => {
        const lines = [`${req.method} ${req.url} HTTP/1.1`];
        for (let i = 0; i < req.rawHeaders.length; i += 2) {
          lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
        }
        upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
        upstream.write(head);
        socket.pipe(upstream).pipe(socket);
      });
      proxy.sockets.add(socket);
      socket.on('close', () => proxy.sockets.delete(socket));
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    await listenLocally(server);
    return proxy;
  }

  get url(): string {
    return localUrl(this.server);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
