import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** `npm run load` runs the k6 scenarios; without k6 it stops at once and says how to get it. */
describe('the load runner', () => {
  it('fails at once, saying how to install k6, when k6 is not there', () => {
    const run = spawnSync(process.execPath, [join(__dirname, '..', '..', 'scripts', 'load.mjs')], {
      env: { PATH: '/nonexistent', K6: '/nonexistent/k6' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('k6 was not found (/nonexistent/k6)');
    expect(run.stderr).toContain('https://grafana.com/docs/k6/latest/set-up/install-k6/');
    // It did not start a cluster first.
    expect(run.stdout).not.toContain('cluster up');
  });

  it('refuses an unknown scenario in --only before anything starts', () => {
    const run = spawnSync(
      process.execPath,
      [join(__dirname, '..', '..', 'scripts', 'load.mjs'), '--only', 'commands,nope'],
      { env: { PATH: '/nonexistent', K6: '/nonexistent/k6' }, encoding: 'utf8', timeout: 20_000 },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--only: unknown scenario "nope" (dashboards, commands, storm)');
    expect(run.stdout).not.toContain('cluster up');
  });
});
