/**
 * Where the page's token comes from, and how it gets a new one.
 *
 * - `#token=<jwt>&project=<id>` (or `projects=a,b`) in the URL: that token
 *   (the fragment never reaches a server or its logs). It cannot be
 *   renewed: when the gateway refuses it, the page says so.
 * - Otherwise the demo's development session (`/demo/session`, DEMO=1):
 *   asked again whenever the gateway refuses the token in hand, so a page
 *   outlives a restarted demo (which signs with a new secret).
 */
export interface Session {
  token: string | (() => Promise<string>);
  projects: string[];
  /** The first project to show. */
  project: string;
  /** In the demo: its extra load (events per second per project); null elsewhere. */
  demoLoad: number | null;
}

interface DemoSession {
  token: string;
  projects: string[];
  load: number | null;
}

async function demoSession(): Promise<DemoSession> {
  const res = await fetch('/demo/session', { cache: 'no-store' });
  if (res.status === 404) {
    throw new Error(
      'This page needs a token: open it as /#token=<jwt>&project=<id>, or start the gateway with DEMO=1.',
    );
  }
  if (!res.ok) throw new Error(`The demo session could not be fetched (HTTP ${res.status}).`);
  return (await res.json()) as DemoSession;
}

export async function openSession(): Promise<Session> {
  const hash = new URLSearchParams(location.hash.slice(1));
  const token = hash.get('token');
  if (token) {
    const projects = (hash.get('projects') ?? hash.get('project') ?? 'demo')
      .split(',')
      .filter((p) => p && p !== '*');
    return { token, projects, project: hash.get('project') ?? projects[0], demoLoad: null };
  }
  const first = await demoSession();
  let initial: string | null = first.token;
  return {
    // The first call takes the token already fetched; each later one (after a refusal) a new one.
    token: async () => {
      const t = initial ?? (await demoSession()).token;
      initial = null;
      return t;
    },
    projects: first.projects,
    project: hash.get('project') ?? first.projects[0],
    demoLoad: first.load,
  };
}
