import type { HistoryLimits } from '../core/event-store.port.js';

/** The validated configuration, read once at boot and injected everywhere as APP_CONFIG. */
export interface AppConfig {
  host: string;
  port: number;
  /** Idle keep-alive time of HTTP connections, ms (HTTP_KEEP_ALIVE_SECONDS). */
  keepAliveMs: number;
  redisUrl: string | null;
  /** Redis Cluster seed nodes (REDIS_CLUSTER_NODES); null for a standalone Redis or embedded mode. */
  redisClusterNodes: { host: string; port: number }[] | null;
  redisKeyPrefix: string;
  jwt: {
    /** HS256 secret, or null when a public key is used. */
    secret: string | null;
    /** PEM public key and its pinned algorithm. */
    publicKey: { pem: string; algorithm: 'RS256' | 'ES256' } | null;
    /** JWKS endpoint (RS256 / ES256 by key type). */
    jwks: { url: string; cooldownMs: number; cacheMs: number } | null;
    audience: string | null;
    issuer: string | null;
    clockSkewSeconds: number;
    /** True when the secret was generated at boot (demo without JWT_SECRET). */
    generated: boolean;
  };
  corsOrigins: string[];
  trustedProxies: string[];
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  history: HistoryLimits;
  /** Seconds a revocation is remembered. */
  revocationTtlSeconds: number;
  /** How long an idempotency record is kept, seconds. */
  idempotencyTtlSeconds: number;
  agents: {
    /** An agent whose replica died is offline after this, ms. */
    presenceTimeoutMs: number;
    /** A command not accepted within this expires, ms. */
    commandTtlMs: number;
    /** Unfinished commands per agent per project. */
    queueMaxPerAgent: number;
    /** Largest command args, JSON bytes. */
    commandMaxBytes: number;
  };
  socket: {
    maxMessageBytes: number;
    connectTimeoutMs: number;
  };
  sse: {
    heartbeatMs: number;
  };
  limits: {
    maxConnectionsPerUser: number;
    connectionLeaseSeconds: number;
    abuseRejections: number;
    maxSubscriptionsPerSocket: number;
    messagesPerSecond: number;
    handshakesPerMinute: number;
    publishPerSecond: number;
    /** Snapshot and history reads per second per token. */
    readsPerSecond: number;
    /** Commands per second per user. */
    commandsPerSecond: number;
  };
  redis: {
    commandTimeoutMs: number;
    heartbeatMs: number;
  };
  breaker: {
    failures: number;
    openMs: number;
  };
  viewer: {
    softLimitBytes: number;
    hardLimitBytes: number;
    /** A backed-up viewer waiting for a replay to go on is lagged after this, ms. */
    replayStallTimeoutMs: number;
  };
  /** History pages read for replays at once on this replica. */
  replayConcurrentReads: number;
  /** Bytes of replayed history held in memory at once on this replica. */
  replayMaxBytes: number;
  /** Browser origins that are this gateway itself (same-origin), besides `corsOrigins`. */
  publicOrigins: string[];
  batchWindowMs: number;
  batchWindowMinMs: number;
  drainWindowMs: number;
  demo: boolean;
  /** Run the simulator (only with `demo`). */
  demoSimulator: boolean;
}

export const APP_CONFIG = Symbol('AppConfig');
