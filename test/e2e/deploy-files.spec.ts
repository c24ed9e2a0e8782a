import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';

const ROOT = join(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** The Dockerfile, compose file and HAProxy config, checked as far as this machine can (no Docker daemon). */
describe('deployment files', () => {
  it('builds in two stages and runs as non-root with a health check', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/healthz/m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/main\.js"\]$/m);
    // Everything copied into the build exists.
    for (const match of dockerfile.matchAll(/^COPY (?!--from)(.+) \.\/?\S*$/gm)) {
      for (const source of match[1].split(' '))
        expect([source, existsSync(join(ROOT, source))]).toEqual([source, true]);
    }
    expect(read('.dockerignore')).toMatch(/^node_modules$/m);
  });

  it('composes Redis, three replicas sharing one secret, one simulator, and HAProxy on one port', () => {
    const compose = YAML.parse(read('docker-compose.yml'), { merge: true }) as {
      services: Record<
        string,
        { environment?: Record<string, string>; ports?: string[]; image?: string }
      >;
    };
    const gateways = Object.entries(compose.services).filter(([name]) =>
      name.startsWith('gateway'),
    );
    expect(gateways).toHaveLength(3);
    const env = gateways.map(([, s]) => s.environment!);
    expect(new Set(env.map((e) => e.JWT_SECRET)).size).toBe(1);
    expect(new Set(env.map((e) => e.REDIS_URL))).toEqual(new Set(['redis://redis:6379']));
    expect(env.filter((e) => e.DEMO_SIMULATOR === '1')).toHaveLength(1);
    expect(compose.services.haproxy.ports).toEqual(['8080:8080']);
    expect(compose.services.redis.image).toMatch(/^redis:7/);
  });

  it('has an HAProxy config that HAProxy accepts, sticky only for polling', () => {
    const probe = spawnSync('haproxy', ['-v']);
    if (probe.error)
      throw new Error('haproxy is not installed: apt-get update && apt-get install -y haproxy');
    const check = spawnSync('haproxy', ['-c', '-f', join(ROOT, 'deploy', 'haproxy.cfg')], {
      encoding: 'utf8',
    });
    expect([check.status, check.stdout + check.stderr]).toEqual([
      0,
      expect.stringContaining('valid'),
    ]);
    const cfg = read('deploy/haproxy.cfg');
    expect(cfg.match(/cookie GWSERVER insert/g)).toHaveLength(1);
    expect(cfg).toMatch(/use_backend polling if socketio polling/);
    expect(cfg).toMatch(/timeout tunnel 1h/);
  });
});
