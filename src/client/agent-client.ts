import { io, type Socket } from 'socket.io-client';
import type { CommandPayloads, CommandType } from '../core/commands.js';
import type {
  Ack,
  ClientToServerEvents,
  CommandDelivery,
  ServerToClientEvents,
} from '../protocol/socket-events.js';
import { fullJitterDelay } from './backoff.js';
import { postWrite, randomKey, type OutgoingWrite } from './http-writes.js';
import { OutgoingQueue } from './outgoing-queue.js';
import { truncate } from './tail-file.js';
import { TokenSource } from './token-source.js';
import type { PublishResult } from './types.js';

/** What a command handler gets besides its args. */
export interface CommandContext {
  readonly commandId: string;
  readonly projectId: string;
  /** The `sub` of whoever asked. */
  readonly requestedBy: string;
  /** Aborted when a dashboard interrupts the command (`command:interrupt`). */
  readonly signal: AbortSignal;
  /**
   * Streams a line of the command's output as a log line of run `runId`
   * (default: the command's id), through the publish API (the token needs
   * `events:publish`), in order, retried under idempotency keys.
   */
  log(line: string, level?: 'debug' | 'info' | 'warn' | 'error'): void;
}

export type CommandHandler<C extends CommandType> = (
  args: CommandPayloads[C],
  context: CommandContext,
) => Promise<string | void> | string | void;

export interface AgentClientOptions {
  /** The gateway's URL (behind a load balancer), or several tried in turn. */
  url: string | string[];
  /** An agent token (role `agent`, `sub` the agent id, its projects), or a function that returns one. */
  token: string | (() => string | Promise<string>);
  /** First reconnect delay, ms, doubled up to `maxBackoffMs` (with jitter). Default 500. */
  initialBackoffMs?: number;
  /** Default 10000. */
  maxBackoffMs?: number;
  /** The run whose log `context.log` writes to, per command; default the command id. */
  runIdOf?: (delivery: CommandDelivery) => string;
}

type AgentSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A report on a command, kept until the gateway acknowledges it (sent again after a reconnect). */
interface Report {
  event: 'command:accepted' | 'command:completed' | 'command:failed';
  payload: { commandId: string; projectId: string; result?: string; error?: string };
}

/** Refusals after which a report is sent again, after `REPORT_RETRY_MS`. */
const RETRY_LATER = new Set(['RATE_LIMITED', 'UNAVAILABLE']);
const REPORT_RETRY_MS = 1000;

/** How many finished command ids are remembered to recognise redeliveries. */
const REMEMBERED = 1000;

/**
 * An agent's connection to the gateway. It connects as an agent (the
 * gateway publishes it online in its projects, and offline when it goes),
 * reconnects with backoff, and runs each command it is given once: delivery
 * is at least once (unfinished commands are given again after a reconnect),
 * and a command id it is running or has finished is not run again; a
 * finished one's report is sent again instead, in case the first was lost.
 * Reports wait until the gateway acknowledges them.
 */
export class AgentClient {
  private readonly handlers = new Map<string, CommandHandler<CommandType>>();
  private readonly running = new Map<string, AbortController>();
  /** Finished command id -> its final report (insertion order: oldest first). */
  private readonly finished = new Map<string, Report>();
  private readonly unacked = new Map<string, Report>();
  private readonly tokens: TokenSource;
  private readonly logs: OutgoingQueue<OutgoingWrite, PublishResult>;
  private readonly lineNumbers = new Map<string, number>();
  private readonly urls: string[];

  constructor(private readonly options: AgentClientOptions) {
    this.urls = (Array.isArray(options.url) ? options.url : [options.url]).map((u) =>
      u.replace(/\/$/, ''),
    );
    this.tokens = new TokenSource(options.token, 60_000, () => undefined);
    this.logs = new OutgoingQueue({
      send: (write) =>
        postWrite(write, {
          baseUrl: this.urls[0],
          tokens: this.tokens,
          refreshable: typeof options.token !== 'string',
          timeoutMs: 10_000,
        }),
      maxQueued: 10_000,
      ttlMs: 300_000,
      initialBackoffMs: options.initialBackoffMs ?? 500,
      maxBackoffMs: options.maxBackoffMs ?? 10_000,
    });
    this.socket = this.connect();
  }

  /**
   * A socket to the next URL. Reconnects are ours (not socket.io-client's,
   * which keeps one URL): after a drop, the next URL in turn, after a
   * backoff with full jitter.
   */
  private connect(): AgentSocket {
    const url = this.urls[this.urlIndex++ % this.urls.length];
    const socket: AgentSocket = io(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: (cb) => {
        this.tokens.get().then(
          (token) => cb({ token }),
          () => cb({}),
        );
      },
    });
    socket.on('command', (delivery) => this.receive(delivery));
    socket.on('command:interrupt', ({ commandId }) => this.running.get(commandId)?.abort());
    socket.on('connect', () => {
      this.attempt = 0;
      this.logs.wake();
      for (const report of this.unacked.values()) void this.send(report);
      for (const waiter of this.waiters.splice(0)) waiter();
    });
    const retry = () => {
      if (this.closed || this.socket !== socket) return;
      socket.removeAllListeners();
      socket.disconnect();
      const delay = fullJitterDelay(
        this.attempt++,
        this.options.initialBackoffMs ?? 500,
        this.options.maxBackoffMs ?? 10_000,
      );
      this.timer = setTimeout(() => {
        if (!this.closed) this.socket = this.connect();
      }, delay);
    };
    socket.on('disconnect', retry);
    socket.on('connect_error', retry);
    return socket;
  }

  private socket: AgentSocket;
  private urlIndex = 0;
  private attempt = 0;
  private closed = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly waiters: (() => void)[] = [];

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Runs `handler` for each command of `type`; what it returns is the command's result. */
  onCommand<C extends CommandType>(type: C, handler: CommandHandler<C>): this {
    this.handlers.set(type, handler as unknown as CommandHandler<CommandType>);
    return this;
  }

  /** Resolves once connected (and online in the gateway's eyes). */
  ready(): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const controller of this.running.values()) controller.abort();
    this.logs.close();
    this.tokens.stop();
    this.socket.disconnect();
  }

  private receive(delivery: CommandDelivery): void {
    const { commandId, projectId } = delivery;
    if (this.running.has(commandId)) return;
    const done = this.finished.get(commandId);
    if (done) {
      void this.send(done);
      return;
    }
    const handler = this.handlers.get(delivery.command);
    const controller = new AbortController();
    this.running.set(commandId, controller);
    // The final report goes after the acceptance was answered, so the two never cross.
    const acceptance = delivery.accepted
      ? Promise.resolve()
      : this.send({ event: 'command:accepted', payload: { commandId, projectId } });
    const runId = this.options.runIdOf?.(delivery) ?? commandId;
    const context: CommandContext = {
      commandId,
      projectId,
      requestedBy: delivery.requestedBy,
      signal: controller.signal,
      log: (line, level) => this.log(projectId, runId, line, level),
    };
    void (async () => {
      let report: Report;
      try {
        if (!handler) throw new Error(`this agent has no handler for ${delivery.command}`);
        const result = await handler(delivery.args as never, context);
        report = {
          event: 'command:completed',
          payload: { commandId, projectId, ...(typeof result === 'string' ? { result } : {}) },
        };
      } catch (err) {
        report = {
          event: 'command:failed',
          payload: {
            commandId,
            projectId,
            error: String(err instanceof Error ? err.message : err),
          },
        };
      }
      this.running.delete(commandId);
      this.lineNumbers.delete(runId);
      this.remember(commandId, report);
      await acceptance;
      void this.send(report);
    })();
  }

  private remember(commandId: string, report: Report): void {
    this.finished.set(commandId, report);
    if (this.finished.size > REMEMBERED) {
      const [oldest] = this.finished.keys();
      this.finished.delete(oldest);
    }
  }

  /**
   * Sends a report; it stays unacknowledged (sent again on reconnect) until
   * the gateway answers. Resolves on the answer, or at once when offline
   * (the report goes out on reconnect, in the order it was made).
   */
  private send(report: Report): Promise<void> {
    const key = `${report.event}:${report.payload.commandId}`;
    this.unacked.set(key, report);
    const socket = this.socket;
    if (!socket.connected) return Promise.resolve();
    return new Promise((resolve) => {
      const ack: Ack<Record<string, never>> = (reply) => {
        if (!reply.ok && RETRY_LATER.has(reply.error.code)) {
          // Not now (rate limited, store unavailable): the same report again shortly.
          setTimeout(() => void this.send(report).then(resolve), REPORT_RETRY_MS);
          return;
        }
        // Done, or refused for good (the command already ended: interrupted, expired).
        this.unacked.delete(key);
        resolve();
      };
      socket.emit(report.event, report.payload, ack);
      // A connection lost before the answer: the report waits for the next one.
      socket.once('disconnect', () => resolve());
    });
  }

  private log(
    projectId: string,
    runId: string,
    line: string,
    level?: 'debug' | 'info' | 'warn' | 'error',
  ): void {
    const lineNumber = (this.lineNumbers.get(runId) ?? 0) + 1;
    this.lineNumbers.set(runId, lineNumber);
    this.logs
      .enqueue({
        projectId,
        key: randomKey(),
        body: {
          type: 'agent.run.log',
          data: { runId, line: truncate(line), lineNumber, ...(level ? { level } : {}) },
        },
      })
      .catch(() => undefined);
  }
}
