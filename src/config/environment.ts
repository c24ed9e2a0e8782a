import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, MinLength } from 'class-validator';

const toBool = ({ value }: { value: unknown }) =>
  typeof value === 'string' ? ['1', 'true', 'yes', 'on'].includes(value.toLowerCase()) : undefined;

/**
 * Every environment variable the gateway reads, with its rule and default.
 * This class is the one place options are declared: docs/configuration.md's table mirrors it.
 */
export class Environment {
  /** Interface to listen on. Default `0.0.0.0`. */
  @IsOptional() @IsString() HOST?: string;

  /** HTTP and Socket.IO port. Default 3000 (0 picks a free port). */
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(65535) PORT?: number;

  /**
   * How long an idle HTTP keep-alive connection stays open, seconds. Default
   * 65: longer than the idle timeout of common load balancers (60 s) and
   * client pools, so the server is not the one closing a connection a client
   * is about to send a publish on (with Node's own default, 5 s, publish
   * requests were reset now and then in the benchmarks, which fits that race).
   */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(3600) HTTP_KEEP_ALIVE_SECONDS?: number;

  /** Redis URL (`redis://host:port/db`). Absent: embedded mode, everything in one process. */
  @IsOptional()
  @Matches(/^rediss?:\/\/\S+$/, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  /**
   * Redis Cluster seed nodes, `host:port` comma separated, instead of REDIS_URL:
   * cluster clients, sharded pub/sub, and one hash slot per project.
   */
  @IsOptional()
  @Matches(/^[^\s,:]+:\d{1,5}(,[^\s,:]+:\d{1,5})*$/, {
    message: 'REDIS_CLUSTER_NODES must be host:port pairs, comma separated',
  })
  REDIS_CLUSTER_NODES?: string;

  /** Prefix of every Redis key and channel. Default `sb`. */
  @IsOptional() @Matches(/^[A-Za-z0-9_-]{1,32}$/) REDIS_KEY_PREFIX?: string;

  /** HS256 secret (development). At least 32 characters. */
  @IsOptional() @IsString() @MinLength(32) JWT_SECRET?: string;

  /** PEM public key (RSA: RS256, EC: ES256) for production tokens. */
  @IsOptional() @IsString() JWT_PUBLIC_KEY?: string;

  /**
   * JWKS URL for production tokens (RS256 / ES256, chosen by each key's type).
   * Keys are cached; a token with an unknown `kid` refetches (at most once per
   * cool-down), so rotating keys needs no restart.
   */
  @IsOptional()
  @Matches(/^https?:\/\/\S+$/, { message: 'JWT_JWKS_URL must be an http(s) URL' })
  JWT_JWKS_URL?: string;

  /** Least time between two JWKS fetches caused by unknown `kid`s, seconds. Default 30. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(3600) JWKS_COOLDOWN_SECONDS?: number;

  /** How long fetched JWKS keys are used before they are fetched again, seconds. Default 600. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(86_400) JWKS_CACHE_SECONDS?: number;

  /**
   * How long a revocation is remembered, seconds: tokens issued before it are
   * refused for that long. Keep it above your longest token lifetime. Default 86400.
   */
  @IsOptional() @Type(() => Number) @IsInt() @Min(60) REVOCATION_TTL_SECONDS?: number;

  /** Required `aud` claim, when set. */
  @IsOptional() @IsString() JWT_AUDIENCE?: string;

  /** Required `iss` claim, when set. */
  @IsOptional() @IsString() JWT_ISSUER?: string;

  /** Clock skew allowed when verifying `exp`/`nbf`/`iat`, seconds. Default 30. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(300) JWT_CLOCK_SKEW_SECONDS?: number;

  /** Allowed browser Origins, comma separated. Default: none (only Origin-less clients). */
  @IsOptional() @IsString() CORS_ORIGINS?: string;

  /** Comma-separated addresses or CIDRs whose X-Forwarded-For names the client. Default none. */
  @IsOptional() @IsString() TRUSTED_PROXIES?: string;

  /** `debug`, `info`, `warn` or `error`. Default `info`. */
  @IsOptional() @IsIn(['debug', 'info', 'warn', 'error']) LOG_LEVEL?: string;

  /** Events kept per project stream. Default 10000. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(10) @Max(10_000_000) HISTORY_MAX_EVENTS?: number;

  /** Log lines kept per run. Default 5000. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(10)
  @Max(1_000_000)
  LOG_HISTORY_MAX_LINES?: number;

  /** Seconds a run's log lines are kept after its last line. Default 86400. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) LOG_HISTORY_TTL_SECONDS?: number;

  /** Seconds an ended entity (finished run, done task) stays in the snapshot. Default 3600. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) SNAPSHOT_ENDED_TTL_SECONDS?: number;

  /**
   * How long an `Idempotency-Key` is remembered, seconds: a retry within it
   * answers what the first write did and publishes nothing. Default 86400.
   */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(604_800) IDEMPOTENCY_TTL_SECONDS?: number;

  /**
   * How soon an agent whose replica died is published offline, ms: its
   * presence lease lives this long without renewal (renewed every third of
   * it). Default 15000.
   */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(3000)
  @Max(600_000)
  AGENT_PRESENCE_TIMEOUT_MS?: number;

  /** How long a command waits for its agent to accept it, ms; then it expires. Default 60000. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1000) @Max(86_400_000) COMMAND_TTL_MS?: number;

  /** Commands one user may send per second, across the cluster. Default 5. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) RATE_LIMIT_COMMANDS_PER_SECOND?: number;

  /** Commands waiting (not yet finished) for one agent in one project. Default 100. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100_000)
  COMMAND_QUEUE_MAX_PER_AGENT?: number;

  /** Largest command `args`, as JSON bytes. Default 16384. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(256) @Max(1_048_576) COMMAND_MAX_BYTES?: number;

  /** Sockets and SSE streams per user, across the cluster. Default 5. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(10_000) MAX_CONNECTIONS_PER_USER?: number;

  /** Project subscriptions one socket may hold. Default 50. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10_000)
  MAX_SUBSCRIPTIONS_PER_SOCKET?: number;

  /** Messages per second per socket (token bucket, burst of twice that). Default 20. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) RATE_LIMIT_MESSAGES_PER_SECOND?: number;

  /**
   * Seconds a replica's claim on one of a user's connection slots lives
   * without renewal (renewed every third of it): a crashed replica's slots
   * free themselves after this. Default 30.
   */
  @IsOptional() @Type(() => Number) @IsInt() @Min(3) @Max(3600) CONNECTION_LEASE_SECONDS?: number;

  /** RATE_LIMITED answers to one socket within 10 s after which it is disconnected. Default 100. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) RATE_LIMIT_ABUSE_REJECTIONS?: number;

  /** Largest Socket.IO message (Engine.IO `maxHttpBufferSize`), bytes. Default 65536. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  @Max(16 * 1024 * 1024)
  MAX_MESSAGE_BYTES?: number;

  /** Time a client has to complete the Socket.IO handshake after connecting, ms. Default 5000. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(500) @Max(60_000) CONNECT_TIMEOUT_MS?: number;

  /** Handshakes per minute per client address. Default 120. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) RATE_LIMIT_HANDSHAKES_PER_MINUTE?: number;

  /** Publish requests per second per publishing token. Default 200. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) RATE_LIMIT_PUBLISH_PER_SECOND?: number;

  /**
   * Longest time live events wait to be sent together in one `events` frame, ms.
   * An event after a quiet spell goes out at the end of the event-loop turn it
   * arrived in; a stream that had a batch less than a window ago gathers until
   * a window has passed. The window adapts: 2 ms while the replica is idle,
   * widening with event-loop load up to this bound. Default 25.
   */
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(1000) BATCH_WINDOW_MS?: number;

  /**
   * The live batch window while the replica is idle, ms: how soon after a
   * batch a busy stream may write the next when there is CPU to spare.
   * Raise it to trade latency for CPU per delivery at every load. At most
   * BATCH_WINDOW_MS. Default 2.
   */
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(1000) BATCH_WINDOW_MIN_MS?: number;

  /** Window over which a stopping replica spreads its disconnects, ms. Default 10000. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(600_000) DRAIN_WINDOW_MS?: number;

  /** Per-command time limit on Redis, ms: a paused Redis fails calls instead of hanging them. Default 2000. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(60_000)
  REDIS_COMMAND_TIMEOUT_MS?: number;

  /**
   * Interval of the PING heartbeat on each Redis connection, ms. A connection
   * that misses three beats is declared dead and reconnected. Default 1000.
   */
  @IsOptional() @Type(() => Number) @IsInt() @Min(100) @Max(60_000) REDIS_HEARTBEAT_MS?: number;

  /** Consecutive failed Redis writes that open the circuit breaker. Default 5. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000) CIRCUIT_BREAKER_FAILURES?: number;

  /** How long an open breaker fails publishes at once before it half-opens to probe, ms. Default 60000. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  CIRCUIT_BREAKER_OPEN_MS?: number;

  /**
   * Bytes a viewer's connection may have buffered (Engine.IO write buffer plus
   * the WebSocket's unsent bytes) before its live events are queued and
   * coalesced instead of written. Default 262144 (256 KiB).
   */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1024) VIEWER_SOFT_LIMIT_BYTES?: number;

  /**
   * Buffered plus queued bytes past which a slow viewer gets
   * `subscription:lagged` and is disconnected. Default 2097152 (2 MiB).
   */
  @IsOptional() @Type(() => Number) @IsInt() @Min(2048) VIEWER_HARD_LIMIT_BYTES?: number;

  /**
   * How long a viewer's connection may stay backed up (over the soft limit)
   * while a replay to it waits to go on, ms; past it the viewer gets
   * `subscription:lagged` and is disconnected. Default 10000.
   */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(600_000)
  REPLAY_STALL_TIMEOUT_MS?: number;

  /**
   * History pages read for replays at once on this replica (each at most 500
   * events); more wait their turn. With the per-viewer hard limit on what a
   * replay holds, this bounds the bytes of all replays in flight. Default 4.
   */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000) REPLAY_CONCURRENT_READS?: number;

  /**
   * Bytes of replayed history a replica holds in memory at once, across all
   * viewers; a replay that finds it used up sends its events page by page as
   * they are read instead of holding them. Default 67108864 (64 MiB).
   */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1024 * 1024) REPLAY_MAX_BYTES?: number;

  /** Snapshot and history reads per second per token, across the cluster (429 past it). Default 20. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) RATE_LIMIT_READS_PER_SECOND?: number;

  /**
   * The gateway's own public origin(s), comma separated
   * (`https://gateway.example.com`): pages served from there (the dashboard)
   * may connect. Same-origin is never judged from the Host header. Default:
   * none (with DEMO=1, `http://localhost:PORT` and `http://127.0.0.1:PORT`).
   */
  @IsOptional() @IsString() PUBLIC_ORIGIN?: string;

  /** Interval of the heartbeat comment on SSE streams, ms. Default 15000. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(100) @Max(600_000) SSE_HEARTBEAT_MS?: number;

  /**
   * With DEMO=1: `0` serves the demo session without running the simulator
   * (every replica behind a load balancer serves sessions, one simulates). Default 1.
   */
  @IsOptional() @Transform(toBool) DEMO_SIMULATOR?: boolean;

  /** `1`: run the demo simulator and serve a development token. Default off. */
  @IsOptional() @Transform(toBool) DEMO?: boolean;
}
