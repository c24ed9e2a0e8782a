// Settings shared by the k6 scripts, from the environment (k6 -e NAME=value).
// No k6 imports here either: `env` is k6's __ENV, passed in.

export function settings(env) {
  const targets = (env.TARGETS || 'http://localhost:8080').split(',').map((u) => u.trim());
  return {
    targets,
    token: env.TOKEN || '',
    publishToken: env.PUBLISH_TOKEN || env.TOKEN || '',
    projects: Number(env.PROJECTS || 10),
    vus: Number(env.VUS || 100),
    duration: env.DURATION || '1m',
    rate: Number(env.RATE || 100),
  };
}

/** The project a virtual user follows, spread evenly. */
export function projectFor(index, projects) {
  return `k6-${index % projects}`;
}

/** A k6 duration (`90s`, `1m`, `500ms`) in ms; 60000 when unreadable. */
export function durationMs(text) {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!m) return 60000;
  return Number(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2]];
}
