import { createPublicKey, randomBytes } from 'node:crypto';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import type { AppConfig } from './app-config.js';
import { Environment } from './environment.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads and validates the environment once. Every bad variable is reported
 * together, so a deploy is fixed in one go rather than one error at a time.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const raw: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    // An empty variable means "unset": compose files and charts often pass `FOO=`.
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const parsed = plainToInstance(Environment, raw, { excludeExtraneousValues: false });
  const problems: string[] = [];
  for (const error of validateSync(parsed, { forbidUnknownValues: false })) {
    const value = raw[error.property];
    const shown = /SECRET|KEY/.test(error.property) ? '(hidden)' : JSON.stringify(value);
    problems.push(
      `${error.property}=${shown}: ${Object.values(error.constraints ?? {}).join('; ')}`,
    );
  }

  let publicKey: AppConfig['jwt']['publicKey'] = null;
  if (parsed.JWT_PUBLIC_KEY) {
    try {
      const key = createPublicKey(parsed.JWT_PUBLIC_KEY.replace(/\\n/g, '\n'));
      const type = key.asymmetricKeyType;
      if (type === 'rsa')
        publicKey = {
          pem: key.export({ type: 'spki', format: 'pem' }).toString(),
          algorithm: 'RS256',
        };
      else if (type === 'ec')
        publicKey = {
          pem: key.export({ type: 'spki', format: 'pem' }).toString(),
          algorithm: 'ES256',
        };
      else problems.push(`JWT_PUBLIC_KEY: an RSA or EC public key is required, got ${type}`);
    } catch {
      problems.push('JWT_PUBLIC_KEY: not a PEM public key');
    }
  }
  const keySources = [parsed.JWT_SECRET, parsed.JWT_PUBLIC_KEY, parsed.JWT_JWKS_URL].filter(
    Boolean,
  ).length;
  if (keySources > 1) {
    problems.push(
      'JWT_SECRET, JWT_PUBLIC_KEY and JWT_JWKS_URL: set exactly one (the algorithm is pinned)',
    );
  }
  if (keySources === 0 && !parsed.DEMO) {
    problems.push(
      'JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL: one is required (or DEMO=1 for a generated dev secret)',
    );
  }
  const corsOrigins = splitList(parsed.CORS_ORIGINS);
  for (const origin of corsOrigins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      problems.push(
        `CORS_ORIGINS: ${JSON.stringify(origin)} is not an origin like https://app.example.com`,
      );
    }
  }
  const publicOrigins: string[] = [];
  if (parsed.PUBLIC_ORIGIN !== undefined) {
    for (const origin of splitList(parsed.PUBLIC_ORIGIN)) {
      if (/^https?:\/\/[^/\s]+$/.test(origin)) publicOrigins.push(origin);
      else {
        problems.push(
          `PUBLIC_ORIGIN: ${JSON.stringify(origin)} is not an origin like https://gateway.example.com`,
        );
      }
    }
  } else if (parsed.DEMO) {
    // The demo page is opened at localhost: it is the gateway's own origin there.
    const port = parsed.PORT ?? 3000;
    publicOrigins.push(`http://localhost:${port}`, `http://127.0.0.1:${port}`);
  }
  if (parsed.REDIS_URL && parsed.REDIS_CLUSTER_NODES) {
    problems.push('REDIS_URL and REDIS_CLUSTER_NODES: set one, not both');
  }
  const soft = parsed.VIEWER_SOFT_LIMIT_BYTES ?? 256 * 1024;
  const hard = parsed.VIEWER_HARD_LIMIT_BYTES ?? 2 * 1024 * 1024;
  if (hard <= soft) {
    problems.push(
      `VIEWER_HARD_LIMIT_BYTES=${hard}: must be greater than VIEWER_SOFT_LIMIT_BYTES (${soft})`,
    );
  }
  const batchWindow = parsed.BATCH_WINDOW_MS ?? 25;
  const batchWindowMin = parsed.BATCH_WINDOW_MIN_MS ?? Math.min(2, batchWindow);
  if (batchWindowMin > batchWindow) {
    problems.push(
      `BATCH_WINDOW_MIN_MS=${batchWindowMin}: must be at most BATCH_WINDOW_MS (${batchWindow})`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const jwks = parsed.JWT_JWKS_URL
    ? {
        url: parsed.JWT_JWKS_URL,
        cooldownMs: (parsed.JWKS_COOLDOWN_SECONDS ?? 30) * 1000,
        cacheMs: (parsed.JWKS_CACHE_SECONDS ?? 600) * 1000,
      }
    : null;
  const generated = !parsed.JWT_SECRET && !publicKey && !jwks;
  return {
    host: parsed.HOST ?? '0.0.0.0',
    port: parsed.PORT ?? 3000,
    keepAliveMs: (parsed.HTTP_KEEP_ALIVE_SECONDS ?? 65) * 1000,
    redisUrl: parsed.REDIS_URL ?? null,
    redisClusterNodes: parsed.REDIS_CLUSTER_NODES
      ? splitList(parsed.REDIS_CLUSTER_NODES).map((node) => {
          const at = node.lastIndexOf(':');
          return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
        })
      : null,
    redisKeyPrefix: parsed.REDIS_KEY_PREFIX ?? 'sb',
    jwt: {
      secret: publicKey || jwks ? null : (parsed.JWT_SECRET ?? randomBytes(32).toString('hex')),
      publicKey,
      jwks,
      audience: parsed.JWT_AUDIENCE ?? null,
      issuer: parsed.JWT_ISSUER ?? null,
      clockSkewSeconds: parsed.JWT_CLOCK_SKEW_SECONDS ?? 30,
      generated,
    },
    corsOrigins,
    trustedProxies: splitList(parsed.TRUSTED_PROXIES),
    logLevel: (parsed.LOG_LEVEL ?? 'info') as AppConfig['logLevel'],
    history: {
      maxEvents: parsed.HISTORY_MAX_EVENTS ?? 10_000,
      maxLogLines: parsed.LOG_HISTORY_MAX_LINES ?? 5_000,
      logTtlSeconds: parsed.LOG_HISTORY_TTL_SECONDS ?? 86_400,
      endedTtlSeconds: parsed.SNAPSHOT_ENDED_TTL_SECONDS ?? 3_600,
    },
    revocationTtlSeconds: parsed.REVOCATION_TTL_SECONDS ?? 86_400,
    idempotencyTtlSeconds: parsed.IDEMPOTENCY_TTL_SECONDS ?? 86_400,
    agents: {
      presenceTimeoutMs: parsed.AGENT_PRESENCE_TIMEOUT_MS ?? 15_000,
      commandTtlMs: parsed.COMMAND_TTL_MS ?? 60_000,
      queueMaxPerAgent: parsed.COMMAND_QUEUE_MAX_PER_AGENT ?? 100,
      commandMaxBytes: parsed.COMMAND_MAX_BYTES ?? 16_384,
    },
    socket: {
      maxMessageBytes: parsed.MAX_MESSAGE_BYTES ?? 64 * 1024,
      connectTimeoutMs: parsed.CONNECT_TIMEOUT_MS ?? 5000,
    },
    sse: { heartbeatMs: parsed.SSE_HEARTBEAT_MS ?? 15_000 },
    limits: {
      maxConnectionsPerUser: parsed.MAX_CONNECTIONS_PER_USER ?? 5,
      connectionLeaseSeconds: parsed.CONNECTION_LEASE_SECONDS ?? 30,
      abuseRejections: parsed.RATE_LIMIT_ABUSE_REJECTIONS ?? 100,
      maxSubscriptionsPerSocket: parsed.MAX_SUBSCRIPTIONS_PER_SOCKET ?? 50,
      messagesPerSecond: parsed.RATE_LIMIT_MESSAGES_PER_SECOND ?? 20,
      handshakesPerMinute: parsed.RATE_LIMIT_HANDSHAKES_PER_MINUTE ?? 120,
      publishPerSecond: parsed.RATE_LIMIT_PUBLISH_PER_SECOND ?? 200,
      readsPerSecond: parsed.RATE_LIMIT_READS_PER_SECOND ?? 20,
      commandsPerSecond: parsed.RATE_LIMIT_COMMANDS_PER_SECOND ?? 5,
    },
    redis: {
      commandTimeoutMs: parsed.REDIS_COMMAND_TIMEOUT_MS ?? 2000,
      heartbeatMs: parsed.REDIS_HEARTBEAT_MS ?? 1000,
    },
    breaker: {
      failures: parsed.CIRCUIT_BREAKER_FAILURES ?? 5,
      openMs: parsed.CIRCUIT_BREAKER_OPEN_MS ?? 60_000,
    },
    viewer: {
      softLimitBytes: soft,
      hardLimitBytes: hard,
      replayStallTimeoutMs: parsed.REPLAY_STALL_TIMEOUT_MS ?? 10_000,
    },
    replayConcurrentReads: parsed.REPLAY_CONCURRENT_READS ?? 4,
    replayMaxBytes: parsed.REPLAY_MAX_BYTES ?? 64 * 1024 * 1024,
    publicOrigins,
    batchWindowMs: batchWindow,
    batchWindowMinMs: batchWindowMin,
    drainWindowMs: parsed.DRAIN_WINDOW_MS ?? 10_000,
    demo: parsed.DEMO ?? false,
    demoSimulator: (parsed.DEMO ?? false) && (parsed.DEMO_SIMULATOR ?? true),
  };
}

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
