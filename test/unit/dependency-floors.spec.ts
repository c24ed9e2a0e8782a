import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The oldest version of each package that is free of the advisories we know
 * of (the CVE fixed by that version in the comment). Checked against every
 * installed copy in package-lock.json, so a transitive downgrade fails here
 * even where `npm audit` cannot reach its endpoint. Raise a floor when a new
 * advisory lands; package.json `overrides` pin the WebSocket stack.
 */
const FLOORS: Record<string, string> = {
  ws: '8.17.1', // CVE-2024-37890: DoS via many HTTP headers
  'engine.io': '6.4.2', // CVE-2023-31125: uncaught exception from a crafted request
  'socket.io-parser': '4.2.3', // CVE-2023-32695: insufficient validation of packets
  'socket.io': '4.6.2', // CVE-2024-38355: unhandled 'error' event
  cookie: '0.7.0', // CVE-2024-47764: out-of-bounds characters in names
  'path-to-regexp': '8.0.0', // CVE-2024-45296 / CVE-2024-52798: ReDoS
  'body-parser': '1.20.3', // CVE-2024-45590: DoS with url encoding
  express: '4.20.0', // CVE-2024-43796: XSS in redirects
  send: '0.19.0', // CVE-2024-43799: template injection
  'serve-static': '1.16.0', // CVE-2024-43800: template injection
  jsonwebtoken: '9.0.0', // CVE-2022-23529 and friends
};

function compare(a: string, b: string): number {
  const pa = a.split(/[.-]/).slice(0, 3).map(Number);
  const pb = b.split(/[.-]/).slice(0, 3).map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

describe('dependency floors', () => {
  const lock = JSON.parse(
    readFileSync(join(__dirname, '..', '..', 'package-lock.json'), 'utf8'),
  ) as { packages: Record<string, { version?: string; dev?: boolean }> };
  const installed = Object.entries(lock.packages)
    .filter(([path]) => path.includes('node_modules/'))
    .map(([path, entry]) => ({
      name: path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length),
      path,
      version: entry.version ?? '0.0.0',
    }));

  it('compares versions by their numbers', () => {
    expect(compare('8.17.1', '8.9.9')).toBeGreaterThan(0);
    expect(compare('4.2.3', '4.2.3')).toBe(0);
    expect(compare('0.6.9', '0.7.0')).toBeLessThan(0);
  });

  it.each(Object.entries(FLOORS))('every installed %s is at least %s', (name, floor) => {
    const copies = installed.filter((p) => p.name === name);
    const tooOld = copies.filter((p) => compare(p.version, floor) < 0);
    expect(tooOld).toEqual([]);
  });

  it('the WebSocket stack is present (the floors check something)', () => {
    for (const name of ['ws', 'engine.io', 'socket.io-parser', 'socket.io']) {
      expect(installed.some((p) => p.name === name)).toBe(true);
    }
  });
});
