import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '../../core/errors.js';

/** A refusal of a new connection, answered before Engine.IO sees the request. */
export interface GateRefusal {
  status: 429 | 503;
  code: ErrorCode;
  message: string;
  retryAfterSeconds: number;
}

/** Judges one new Socket.IO connection (its first request); null lets it through. */
export type GateCheck = (req: IncomingMessage) => Promise<GateRefusal | null> | GateRefusal | null;

const REASONS: Record<GateRefusal['status'], string> = {
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

/**
 * Runs `check` on every new Socket.IO connection (a request under `path`
 * without the `sid` of a session Engine.IO holds: a polling handshake or a
 * direct WebSocket upgrade) before Engine.IO does any work for it, and answers refusals with a
 * real status (429, 503) and the coded JSON body. Engine.IO's own hooks
 * (allowRequest, middlewares) can only answer 400/403 or drop an upgrade,
 * and a load balancer or client needs the status to know to go elsewhere or
 * wait. Must be installed after Socket.IO attached its listeners, which it wraps.
 */
export function installConnectionGate(
  http: HttpServer,
  path: string,
  check: GateCheck,
  /** True when Engine.IO holds a session with this id right now. */
  hasSession: (sid: string) => boolean,
): void {
  // Engine.IO treats an empty or unknown `sid` as a new handshake: only a
  // session it actually holds may skip the gate.
  const isNewConnection = (req: IncomingMessage) => {
    if (req.url?.startsWith(path) !== true) return false;
    const sid = /[?&]sid=([^&#]*)/.exec(req.url)?.[1];
    return sid === undefined || sid === '' || !hasSession(decodeSid(sid));
  };

  const requestListeners = http.listeners('request') as ((
    req: IncomingMessage,
    res: ServerResponse,
  ) => void)[];
  http.removeAllListeners('request');
  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const pass = () => {
      for (const listener of requestListeners) listener.call(http, req, res);
    };
    if (!isNewConnection(req)) return pass();
    void Promise.resolve(check(req)).then((refusal) => {
      if (!refusal) return pass();
      res.writeHead(refusal.status, {
        'Content-Type': 'application/json',
        'Retry-After': String(refusal.retryAfterSeconds),
      });
      res.end(body(refusal));
    }, pass);
  });

  const upgradeListeners = http.listeners('upgrade') as ((
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ) => void)[];
  http.removeAllListeners('upgrade');
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const pass = () => {
      for (const listener of upgradeListeners) listener.call(http, req, socket, head);
    };
    if (!isNewConnection(req)) return pass();
    void Promise.resolve(check(req)).then((refusal) => {
      if (!refusal) return pass();
      const text = body(refusal);
      socket.end(
        `HTTP/1.1 ${refusal.status} ${REASONS[refusal.status]}\r\nConnection: close\r\n` +
          `Content-Type: application/json\r\nRetry-After: ${refusal.retryAfterSeconds}\r\n` +
          `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
      );
    }, pass);
  });
}

function decodeSid(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function body(refusal: GateRefusal): string {
  return JSON.stringify({ error: { code: refusal.code, message: refusal.message } });
}
