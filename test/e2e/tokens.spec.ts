import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import jwt from 'jsonwebtoken';
import { listenLocally, localUrl } from '../support/free-port.js';
import { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { eventually } from '../support/metrics.js';
import { TEST_AUDIENCE, TEST_ISSUER } from '../support/tokens.js';
import { Viewer, connectRefused } from '../support/viewer.js';

interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: KeyObject;
  publicKey: KeyObject;
}

const rsaKey = (): SigningKey => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid: randomUUID(), alg: 'RS256', privateKey, publicKey };
};
const ecKey = (): SigningKey => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid: randomUUID(), alg: 'ES256', privateKey, publicKey };
};

/** A local identity provider's JWKS endpoint whose key set the test rotates. */
class JwksServer {
  keys: SigningKey[] = [];
  /** When each fetch arrived, in ms since the epoch. */
  fetchedAt: number[] = [];
  private constructor(private readonly server: Server) {}

  static async start(): Promise<JwksServer> {
    const server = createServer();
    const jwks = new JwksServer(server);
    server.on('request', (_req, res) => {
      jwks.fetchedAt.push(Date.now());
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          keys: jwks.keys.map((k) => ({
            ...k.publicKey.export({ format: 'jwk' }),
            kid: k.kid,
            alg: k.alg,
            use: 'sig',
          })),
        }),
      );
    });
    await listenLocally(server);
    return jwks;
  }

  get fetches(): number {
    return this.fetchedAt.length;
  }

  get lastFetchAt(): number {
    return this.fetchedAt.at(-1) ?? 0;
  }

  get url(): string {
    return `${localUrl(this.server)}/.well-known/jwks.json`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface Claims {
  sub?: string;
  projects?: string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  aud?: string;
  iss?: string;
}

/** The gateway's JWKS cool-down in these tests. */
const COOLDOWN_MS = 2000;

const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: Claims = {}): Claims => ({
  sub: 'user-1',
  projects: ['*'],
  iat: now(),
  exp: now() + 600,
  aud: TEST_AUDIENCE,
  iss: TEST_ISSUER,
  ...extra,
});
const sign = (key: SigningKey, extra: Claims = {}, header: { kid?: string } = {}) =>
  jwt.sign(claims(extra), key.privateKey, {
    algorithm: key.alg,
    keyid: header.kid ?? key.kid,
  });

/**
 * Production tokens: RS256/ES256 from a JWKS that rotates, with the algorithm
 * pinned and every claim checked; the classic JWT attacks are refused.
 */
describe('production tokens (JWKS)', () => {
  let idp: JwksServer;
  let gw: GatewayProcess;
  const first = rsaKey();
  const viewers: Viewer[] = [];

  const accepted = async (token: string) => {
    const v = await Viewer.connect(gw.url, token);
    viewers.push(v);
    expect((await http('GET', `${gw.url}/api/projects/p1/snapshot`, { token })).status).toBe(200);
  };
  /** The gateway refetches for an unknown kid only once its cool-down since the last fetch is over. */
  const afterCooldown = () =>
    eventually(
      () => Promise.resolve(Date.now() - idp.lastFetchAt > COOLDOWN_MS + 100),
      5000,
      'the cool-down',
    );
  const refused = async (token: string, message: string | RegExp) => {
    const err = await connectRefused(gw.url, token);
    expect(err.message).toBe('UNAUTHORIZED');
    expect(err.data?.message).toMatch(message);
    const res = await http('GET', `${gw.url}/api/projects/p1/snapshot`, { token });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHORIZED');
  };

  beforeAll(async () => {
    idp = await JwksServer.start();
    idp.keys = [first];
    gw = await GatewayProcess.start({
      JWT_SECRET: '',
      JWT_JWKS_URL: idp.url,
      JWKS_COOLDOWN_SECONDS: String(COOLDOWN_MS / 1000),
      JWT_CLOCK_SKEW_SECONDS: '5',
    });
  }, 30_000);

  afterEach(() => viewers.splice(0).forEach((v) => v.close()));

  afterAll(async () => {
    await gw?.kill();
    await idp?.stop();
  });

  it('accepts an RS256 token whose kid is in the JWKS', async () => {
    await accepted(sign(first));
  });

  it('follows a key rotation without a restart: an unknown kid refetches the JWKS', async () => {
    await accepted(sign(first));
    const fetchesBefore = idp.fetches;
    const second = ecKey();
    idp.keys = [first, second];
    await afterCooldown();
    await accepted(sign(second));
    expect(idp.fetches).toBe(fetchesBefore + 1);
    // The old key is retired: its tokens keep working only while it is cached,
    // and a token from a key that was never published is refused.
    idp.keys = [second];
    await afterCooldown();
    await refused(sign(rsaKey()), /kid/);
  });

  it('refetches at most once per cool-down however many unknown kids arrive', async () => {
    await afterCooldown();
    const fetchesBefore = idp.fetches;
    for (let i = 0; i < 10; i++) await refused(sign(rsaKey()), /kid/);
    // The first unknown kid refetches. However long the loop takes on a slow
    // machine, no two fetches are closer than the cool-down: a refetch per
    // unknown kid would be ten fetches a few milliseconds apart.
    const during = idp.fetchedAt.slice(fetchesBefore);
    expect(during.length).toBeGreaterThanOrEqual(1);
    const gaps = during.slice(1).map((at, i) => at - during[i]);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(COOLDOWN_MS - 20);
  });

  it('refuses alg none, an HS256 token signed with the public key, and a key used with the wrong algorithm', async () => {
    const unsigned = jwt.sign(claims(), '', { algorithm: 'none' });
    await refused(unsigned, /algorithm|malformed/);

    const pem = first.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const confused = jwt.sign(claims(), pem, {
      algorithm: 'HS256',
      keyid: first.kid,
      allowInsecureKeySizes: true,
    } as jwt.SignOptions);
    await refused(confused, /algorithm/);

    // An RS256 signature presented under an ES256 key's kid.
    const ec = ecKey();
    idp.keys = [first, ec];
    await afterCooldown();
    await accepted(sign(ec)); // the gateway now knows the EC key
    // jose only matches a kid whose key fits the header alg: no key is found.
    await refused(sign(first, {}, { kid: ec.kid }), /algorithm|signature|kid/);

    // A right kid with a signature from another private key.
    const impostor = { ...rsaKey(), kid: first.kid };
    await refused(sign(impostor), /signature/);
  });

  it('checks exp, nbf, iat, aud and iss, with the configured clock skew', async () => {
    await refused(sign(first, { exp: now() - 60 }), /expired/);
    await accepted(sign(first, { exp: now() - 2 })); // within 5 s of skew
    await refused(sign(first, { nbf: now() + 60 }), /not yet valid/);
    await accepted(sign(first, { nbf: now() + 2 }));
    await refused(sign(first, { aud: 'someone-else' }), /audience/);
    await refused(sign(first, { iss: 'https://evil.test' }), /issuer/);
    const withoutIat = claims();
    delete withoutIat.iat;
    const noIat = jwt.sign(withoutIat, first.privateKey, {
      algorithm: 'RS256',
      keyid: first.kid,
      noTimestamp: true,
    });
    await refused(noIat, /no iat/);
  });

  it('answers UNAVAILABLE, not UNAUTHORIZED, when the keys cannot be fetched', async () => {
    const isolated = await JwksServer.start();
    const url = isolated.url;
    await isolated.stop();
    const lonely = await GatewayProcess.start({
      JWT_SECRET: '',
      JWT_JWKS_URL: url,
    });
    try {
      const token = sign(first);
      const err = await connectRefused(lonely.url, token);
      expect(err.data?.code).toBe('UNAVAILABLE');
      const res = await http('GET', `${lonely.url}/api/projects/p1/snapshot`, { token });
      expect(res.status).toBe(503);
      expect((await http('GET', `${lonely.url}/healthz`)).status).toBe(200);
    } finally {
      await lonely.kill();
    }
  });
});
