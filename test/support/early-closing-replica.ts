import { createServer, type Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import { listenLocally, localUrl } from './free-port.js';

/** Far beyond any test: a client that waits for it has not moved. */
export const ANNOUNCED_MS = 600_000;

/**
 * A replica whose drain is cut short: it accepts a viewer, announces a drain
 * with a reconnect time far ahead, then closes the connection at once, as a
 * real replica does when its orchestrator kills it before `DRAIN_WINDOW_MS`
 * is over (a `terminationGracePeriodSeconds` shorter than the window). The
 * real gateway announces and closes at the same moment, so it cannot pin this
 * order down; this stand-in speaks just enough of the wire protocol to do so.
 *
 * WebSocket: acks `subscribe`, then sends `server:draining` and closes.
 * SSE: sends `ready`, then `draining`, then ends the stream.
 */
export class EarlyClosingReplica {
  private constructor(
    private readonly http: HttpServer,
    private readonly io: Server,
  ) {}

  get url(): string {
    return localUrl(this.http);
  }

  static async start(): Promise<EarlyClosingReplica> {
    const http = createServer((req, res) => {
      if (req.method !== 'GET' || !/^\/api\/projects\/[^/]+\/events/.test(req.url ?? '')) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: ready\ndata: ${JSON.stringify({ position: '0-0' })}\n\n`);
      res.end(`event: draining\ndata: ${JSON.stringify({ reconnectInMs: ANNOUNCED_MS })}\n\n`);
    });
    const io = new Server(http, { transports: ['websocket'] });
    io.on('connection', (socket) => {
      socket.on('subscribe', (_payload: unknown, ack: (reply: unknown) => void) => {
        ack({ ok: true, position: '0-0' });
        setImmediate(() => {
          socket.emit('server:draining', { reconnectInMs: ANNOUNCED_MS });
          socket.conn.close();
        });
      });
    });
    await listenLocally(http);
    return new EarlyClosingReplica(http, io);
  }

  async stop(): Promise<void> {
    this.http.closeAllConnections();
    await this.io.close();
  }
}
