import { http } from './http.js';

/** Sums the samples of one metric (optionally those whose labels contain `labels`) from /metrics. */
export async function metric(url: string, name: string, labels = ''): Promise<number> {
  const res = await http<string>('GET', `${url}/metrics`);
  let total = 0;
  let seen = false;
  for (const line of res.body.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labels && !rest.includes(labels)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
    seen = true;
  }
  if (!seen) throw new Error(`metric ${name}${labels} not found`);
  return total;
}

/** Polls `probe` until it returns true (each poll waits for a real round trip); rejects after `timeoutMs`. */
export async function eventually(
  probe: () => Promise<boolean>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
