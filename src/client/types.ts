import type { EventEnvelope } from '../core/envelope.js';
import type { Snapshot } from '../protocol/socket-events.js';

export type { EventEnvelope, Snapshot };

/** `connecting` (first connect), `live`, `reconnecting` (lost, retrying), `offline` (closed, or refused). */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline';
export type TransportName = 'websocket' | 'sse' | 'polling';

export interface SubscribeOptions {
  /** Event type patterns (`agent.*`); all types when absent. */
  types?: string[];
  /** New events, in id order, batched (one call per animation frame or batch window). */
  onEvents?: (events: EventEnvelope[]) => void;
  /** The project's state at `position` on first subscribe; events after it follow. */
  onSnapshot?: (snapshot: Snapshot, position: string) => void;
  /** History behind this client was lost: replace your state with this snapshot. */
  onResync?: (snapshot: Snapshot, position: string) => void;
  /** Access lost (`FORBIDDEN`) or another coded failure for this project. */
  onError?: (error: { code: string; message: string }) => void;
}

export interface ClientOptions {
  /** One gateway URL, or several (tried in turn on reconnect, as a load balancer would). */
  url: string | string[];
  /** A token, or a function that returns a fresh one (called again before expiry). */
  token: string | (() => string | Promise<string>);
  /** Transports in order of preference. Default websocket, then sse, then polling. */
  transports?: TransportName[];
  /** `frame`: one onEvents per animation frame; a number: per that many ms. Default frame in browsers, 100 elsewhere. */
  batch?: 'frame' | number;
  /** First reconnect delay ceiling, doubled per attempt up to `maxBackoffMs` (full jitter). Default 1000. */
  initialBackoffMs?: number;
  /** Default 30000. */
  maxBackoffMs?: number;
  /** Fetch a new token this long before the current one expires. Default 60000. */
  refreshBeforeMs?: number;
  /** Polling transport: pause between history requests. Default 2000. */
  pollIntervalMs?: number;
  /** On a fallback transport, how often to try the preferred ones again. Default 30000. */
  upgradeProbeMs?: number;
  /** How long a transport may take to become live before the next one is tried. Default 5000. */
  connectTimeoutMs?: number;
  /** `publish`: writes waiting for the gateway at most; one more is refused with `QUEUE_FULL`. Default 1000. */
  maxQueuedWrites?: number;
  /** `publish`: how long a write may wait, ms; past it, it is refused with `EXPIRED`. Default 300000 (5 min). */
  writeTtlMs?: number;
  /** `publish`: how long one attempt may take before it counts as lost and is retried, ms. Default 10000. */
  writeTimeoutMs?: number;
}

/** A client-side failure with the gateway's code. */
export class GatewayClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** True when retrying cannot help (bad token): the client goes offline. */
    readonly fatal = false,
    /** True when the same request may succeed later (network down, 429, 503): a queued write waits and retries. */
    readonly retriable = false,
  ) {
    super(message);
    this.name = 'GatewayClientError';
  }
}

/** The coded error of a refused HTTP response (`{ error: { code, message } }`). */
export async function errorFromResponse(res: Response): Promise<GatewayClientError> {
  const body = (await res.json().catch(() => ({}))) as {
    error?: { code: string; message: string };
  };
  const code = body.error?.code ?? 'UNAVAILABLE';
  return new GatewayClientError(
    code,
    body.error?.message ?? `HTTP ${res.status}`,
    code === 'UNAUTHORIZED',
    RETRIABLE_STATUSES.has(res.status),
  );
}

/** Answers after which the same request may succeed: rate limited, or the gateway or its store unavailable. */
const RETRIABLE_STATUSES = new Set([429, 500, 502, 503, 504]);

/** One write of events through `GatewayClient.publish`. */
export interface PublishOptions {
  /**
   * The write's `Idempotency-Key` (1 to 128 visible ASCII characters).
   * Default: a random one per call. Give your own to make a write you may
   * repeat (after a crash of your process, say) count once.
   */
  idempotencyKey?: string;
  /** `If-Match`: the version (event id) the one entity these events name must be at. */
  ifMatch?: string;
}

export interface PublishResult {
  ids: string[];
  /** True when the gateway had this key already: the first write's ids, nothing published now. */
  replayed: boolean;
}
