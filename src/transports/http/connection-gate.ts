import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '../../core/errors.js';
import type { FrontRoute } from './front-door.js';

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
 * direct WebSocket upgrade) before Engine.IO does any work for it, and answers
 * refusals with a real status (429, 503) and the coded JSON body. Engine.IO's
 * own hooks (allowRequest, middlewares) can only answer 400/403 or drop an
 * upgrade, and a load balancer or client needs the status to know to go
 * elsewhere or wait. A route of the `FrontDoor`.
 */
export function connectionGate(
  path: string,
  check: GateCheck,
  /** True when Engine.IO holds a session with this id right now. */
  hasSession: (sid: string) => boolean,
): FrontRoute {
  // Engine.IO treats an empty or unknown `sid` as a new handshake: only a
  // session it actually holds may skip the gate.
  const isNewConnection = (req: IncomingMessage) => {
    if (req.url?.startsWith(path) !== true) return false;
    const sid = /[?&]sid=([^&#]*)/.exec(req.url)?.[1];
    return sid === undefined || sid === '' || !hasSession(decodeSid(sid));
  };
  return {
    request: (req: IncomingMessage, res: ServerResponse, pass: () => void) => {
      if (!isNewConnection(req)) return false;
      void Promise.resolve(check(req)).then((refusal) => {
        if (!refusal) return pass();
        res.writeHead(refusal.status, {
          'Content-Type': 'application/json',
          'Retry-After': String(refusal.retryAfterSeconds),
        });
        res.end(body(refusal));
      }, pass);
      return true;
    },
    upgrade: (req: IncomingMessage, socket: Duplex, _head: Buffer, pass: () => void) => {
      if (!isNewConnection(req)) return false;
      void Promise.resolve(check(req)).then((refusal) => {
        if (!refusal) return pass();
        const text = body(refusal);
        socket.end(
          `HTTP/1.1 ${refusal.status} ${REASONS[refusal.status]}\r\nConnection: close\r\n` +
            `Content-Type: application/json\r\nRetry-After: ${refusal.retryAfterSeconds}\r\n` +
            `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
        );
      }, pass);
      return true;
    },
  };
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
