import { io, type Socket } from 'socket.io-client';
import type { EventEnvelope } from '../../src/core/envelope.js';
import { Waiter } from './waiter.js';

export interface Ack {
  ok: boolean;
  error?: { code: string; message: string };
  projectId?: string;
  position?: string;
  replayed?: number;
  snapshot?: Record<string, EventEnvelope>;
  resync?: boolean;
  /** `auth:refresh`. */
  expiresAt?: string;
}

/**
 * A real socket.io-client viewer that records every `events` frame and lets a
 * test wait for a condition instead of sleeping.
 */
export class Viewer {
  readonly events: EventEnvelope[] = [];
  readonly frames: EventEnvelope[][] = [];
  /** Every other server event, by name, in arrival order (consumed by `next`). */
  private readonly received = new Map<string, unknown[]>();
  private readonly waiter = new Waiter();

  private constructor(readonly socket: Socket) {
    socket.on('events', (events: EventEnvelope[]) => {
      this.frames.push(events);
      this.events.push(...events);
      this.waiter.notify();
    });
    // Recorded from the connect on: an event the server sends at once is never missed.
    socket.onAny((name: string, payload: unknown) => {
      if (name === 'events') return;
      const list = this.received.get(name) ?? [];
      list.push(payload);
      this.received.set(name, list);
      this.waiter.notify();
    });
  }

  /** The next (not yet taken) payload of server event `name`, waiting for it if need be. */
  async next<T>(name: string, timeoutMs = 10_000): Promise<T> {
    await this.waiter.until(
      () => (this.received.get(name)?.length ?? 0) > 0,
      timeoutMs,
      () => `server event ${name}`,
    );
    return this.received.get(name)!.shift() as T;
  }

  static connect(
    url: string,
    tokenValue: string | undefined,
    extra: { origin?: string; forwardedFor?: string } = {},
  ): Promise<Viewer> {
    const headers: Record<string, string> = {};
    if (extra.origin) headers.Origin = extra.origin;
    if (extra.forwardedFor) headers['X-Forwarded-For'] = extra.forwardedFor;
    const socket = io(url, {
      auth: tokenValue === undefined ? {} : { token: tokenValue },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      extraHeaders: headers,
    });
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(new Viewer(socket)));
      socket.once('connect_error', (err) => {
        socket.close();
        reject(err);
      });
    });
  }

  emit(event: string, payload: unknown): Promise<Ack> {
    return this.socket.timeout(10_000).emitWithAck(event, payload) as Promise<Ack>;
  }

  subscribe(payload: Record<string, unknown>): Promise<Ack> {
    return this.emit('subscribe', payload);
  }

  /** Resolves once `predicate` holds over what was received; rejects after `timeoutMs`. */
  async until(
    predicate: (events: EventEnvelope[]) => boolean,
    timeoutMs = 10_000,
  ): Promise<EventEnvelope[]> {
    await this.waiter.until(
      () => predicate(this.events),
      timeoutMs,
      () => `events; received ${this.events.length}`,
    );
    return this.events;
  }

  untilCount(n: number, timeoutMs?: number): Promise<EventEnvelope[]> {
    return this.until((e) => e.length >= n, timeoutMs);
  }

  close(): void {
    this.socket.close();
  }
}

/** Connect expecting refusal; resolves with the connect_error. */
export function connectRefused(
  url: string,
  tokenValue: string | undefined,
  extra: { origin?: string; forwardedFor?: string } = {},
): Promise<Error & { data?: { code: string; message: string } }> {
  return Viewer.connect(url, tokenValue, extra).then(
    (v) => {
      v.close();
      throw new Error('connection was accepted');
    },
    (err: Error & { data?: { code: string; message: string } }) => err,
  );
}

/**
 * The TCP socket under a socket.io-client WebSocket connection, so a test can
 * stop reading it (`pause()`), as a stalled browser tab would.
 */
export function tcpSocketOf(socket: Socket): import('node:net').Socket {
  const engine = socket.io.engine as unknown as {
    transport: { name: string; ws?: { _socket?: import('node:net').Socket } };
  };
  const tcp = engine.transport.ws?._socket;
  if (engine.transport.name !== 'websocket' || !tcp) throw new Error('not a WebSocket connection');
  return tcp;
}
