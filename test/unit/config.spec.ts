import { ConfigError, loadConfig } from '../../src/config/load-config.js';

const SECRET = 'x'.repeat(32);

describe('configuration', () => {
  it('has documented defaults', () => {
    const c = loadConfig({ JWT_SECRET: SECRET });
    expect(c).toMatchObject({
      host: '0.0.0.0',
      port: 3000,
      keepAliveMs: 65_000,
      redisUrl: null,
      redisKeyPrefix: 'sb',
      corsOrigins: [],
      logLevel: 'info',
      history: {
        maxEvents: 10_000,
        maxLogLines: 5_000,
        logTtlSeconds: 86_400,
        endedTtlSeconds: 3_600,
      },
      limits: {
        maxConnectionsPerUser: 5,
        maxSubscriptionsPerSocket: 50,
        messagesPerSecond: 20,
        handshakesPerMinute: 120,
        publishPerSecond: 200,
        readsPerSecond: 20,
      },
      viewer: { softLimitBytes: 262_144, hardLimitBytes: 2_097_152, replayStallTimeoutMs: 10_000 },
      replayConcurrentReads: 4,
      replayMaxBytes: 64 * 1024 * 1024,
      publicOrigins: [],
      batchWindowMs: 25,
      batchWindowMinMs: 2,
      drainWindowMs: 10_000,
      demo: false,
    });
    expect(c.jwt).toMatchObject({ secret: SECRET, clockSkewSeconds: 30, generated: false });
  });

  it('reads every variable', () => {
    const c = loadConfig({
      HOST: '127.0.0.1',
      PORT: '8080',
      HTTP_KEEP_ALIVE_SECONDS: '120',
      REDIS_URL: 'redis://r:6379',
      REDIS_KEY_PREFIX: 'gw',
      JWT_SECRET: SECRET,
      JWT_AUDIENCE: 'aud',
      JWT_ISSUER: 'iss',
      CORS_ORIGINS: 'https://a.test, https://b.test',
      TRUSTED_PROXIES: '10.0.0.0/8',
      LOG_LEVEL: 'debug',
      HISTORY_MAX_EVENTS: '500',
      BATCH_WINDOW_MS: '0',
      DEMO: 'true',
    });
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      keepAliveMs: 120_000,
      redisUrl: 'redis://r:6379',
      redisKeyPrefix: 'gw',
      corsOrigins: ['https://a.test', 'https://b.test'],
      trustedProxies: ['10.0.0.0/8'],
      logLevel: 'debug',
      batchWindowMs: 0,
      batchWindowMinMs: 0,
      demo: true,
    });
    expect(c.history.maxEvents).toBe(500);
    expect(c.jwt).toMatchObject({ audience: 'aud', issuer: 'iss' });
  });

  it('reads the bounds on replays and reads, and the public origins', () => {
    const c = loadConfig({
      JWT_SECRET: SECRET,
      REPLAY_STALL_TIMEOUT_MS: '3000',
      REPLAY_CONCURRENT_READS: '2',
      REPLAY_MAX_BYTES: '2097152',
      RATE_LIMIT_READS_PER_SECOND: '5',
      PUBLIC_ORIGIN: 'https://gw.example.com, http://localhost:8080',
    });
    expect(c).toMatchObject({
      viewer: { replayStallTimeoutMs: 3000 },
      replayConcurrentReads: 2,
      replayMaxBytes: 2_097_152,
      limits: { readsPerSecond: 5 },
      publicOrigins: ['https://gw.example.com', 'http://localhost:8080'],
    });
  });

  it("takes the demo page's own origins as same-origin only in demo mode", () => {
    expect(loadConfig({ DEMO: '1', PORT: '4000' }).publicOrigins).toEqual([
      'http://localhost:4000',
      'http://127.0.0.1:4000',
    ]);
    expect(loadConfig({ JWT_SECRET: SECRET }).publicOrigins).toEqual([]);
  });

  it('keeps the idle batch window within the bound', () => {
    expect(loadConfig({ JWT_SECRET: SECRET, BATCH_WINDOW_MIN_MS: '25' })).toMatchObject({
      batchWindowMs: 25,
      batchWindowMinMs: 25,
    });
    expect(() =>
      loadConfig({ JWT_SECRET: SECRET, BATCH_WINDOW_MS: '20', BATCH_WINDOW_MIN_MS: '30' }),
    ).toThrow(/BATCH_WINDOW_MIN_MS=30: must be at most BATCH_WINDOW_MS \(20\)/);
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ JWT_SECRET: SECRET, PORT: '', REDIS_URL: '' })).toMatchObject({
      port: 3000,
      redisUrl: null,
    });
  });

  it('reports every bad variable at once, never the secret itself', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({
        PORT: 'eighty',
        HTTP_KEEP_ALIVE_SECONDS: '0',
        REDIS_URL: 'http://nope',
        HISTORY_MAX_EVENTS: '-1',
        LOG_LEVEL: 'loud',
        JWT_SECRET: 'short-secret',
        CORS_ORIGINS: 'not an origin',
        PUBLIC_ORIGIN: 'https://ok.test,evil.test/path',
        REPLAY_MAX_BYTES: '10',
        REPLAY_CONCURRENT_READS: '0',
      });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const joined = error!.problems.join('\n');
    for (const name of [
      'PORT',
      'HTTP_KEEP_ALIVE_SECONDS',
      'REDIS_URL',
      'HISTORY_MAX_EVENTS',
      'LOG_LEVEL',
      'JWT_SECRET',
      'CORS_ORIGINS',
      'PUBLIC_ORIGIN',
      'REPLAY_MAX_BYTES',
      'REPLAY_CONCURRENT_READS',
    ])
      expect(joined).toContain(name);
    expect(joined).not.toContain('short-secret');
  });

  it('needs a key unless in demo mode, where a dev secret is generated', () => {
    expect(() => loadConfig({})).toThrow(
      /JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL: one is required/,
    );
    const demo = loadConfig({ DEMO: '1' });
    expect(demo.jwt.generated).toBe(true);
    expect(demo.jwt.secret).toHaveLength(64);
    expect(loadConfig({ DEMO: '1' }).jwt.secret).not.toBe(demo.jwt.secret);
  });

  it('pins the algorithm from the public key and refuses a secret and a key together', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    expect(loadConfig({ JWT_PUBLIC_KEY: rsa }).jwt.publicKey?.algorithm).toBe('RS256');
    expect(loadConfig({ JWT_PUBLIC_KEY: ec }).jwt.publicKey?.algorithm).toBe('ES256');
    expect(() => loadConfig({ JWT_PUBLIC_KEY: 'garbage' })).toThrow(/not a PEM public key/);
    expect(() => loadConfig({ JWT_PUBLIC_KEY: rsa, JWT_SECRET: SECRET })).toThrow(
      /set exactly one/,
    );
  });
});
