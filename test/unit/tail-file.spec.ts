import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tailFile, truncate, type TailOptions } from '../../src/client/tail-file.js';
import type { PublishEvent } from '../../src/client/http-writes.js';

/** A publish that records what it was given and lets a test wait for a count of lines. */
function recorder() {
  const lines: { line: string; lineNumber: number }[] = [];
  let notify: (() => void) | null = null;
  return {
    lines,
    publish: (_projectId: string, events: PublishEvent[]) => {
      for (const e of events) lines.push(e.data as { line: string; lineNumber: number });
      notify?.();
      return Promise.resolve();
    },
    async until(n: number) {
      while (lines.length < n) await new Promise<void>((r) => (notify = r));
    },
  };
}

describe('log tailer', () => {
  let dir: string;
  let seq = 0;
  const opts = (r: ReturnType<typeof recorder>, extra: Partial<TailOptions> = {}): TailOptions => ({
    projectId: 'p1',
    runId: `run${++seq}`,
    publish: r.publish,
    pollMs: 20,
    ...extra,
  });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tail-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('waits for a file that appears late, follows it as it grows, and stops at the sentinel', async () => {
    const file = join(dir, 'late.log');
    const r = recorder();
    const tail = tailFile(file, opts(r));
    await writeFile(file, 'one\ntw');
    await r.until(1);
    await appendFile(file, 'o\nthree\n');
    await r.until(3);
    await appendFile(file, '=== Run Complete ===\nafter\n');
    expect(await tail.done).toBe('sentinel');
    expect(r.lines).toEqual([
      { runId: expect.any(String), line: 'one', lineNumber: 1 },
      { runId: expect.any(String), line: 'two', lineNumber: 2 },
      { runId: expect.any(String), line: 'three', lineNumber: 3 },
    ]);
  });

  it('gives up on a file that does not appear within the wait', async () => {
    const r = recorder();
    const tail = tailFile(join(dir, 'never.log'), opts(r, { appearTimeoutMs: 100 }));
    expect(await tail.done).toBe('missing');
    expect(r.lines).toEqual([]);
  });

  it('cuts a line over the limit with a marker instead of losing it, on a character boundary', async () => {
    const file = join(dir, 'long.log');
    const r = recorder();
    await writeFile(file, `${'é'.repeat(5000)}\nshort\n=== Run Complete ===\n`);
    expect(await tailFile(file, opts(r)).done).toBe('sentinel');
    const [long, short] = r.lines;
    expect(Buffer.byteLength(long.line)).toBeLessThanOrEqual(8192);
    expect(long.line.endsWith(' [truncated]')).toBe(true);
    expect(long.line).not.toContain('\uFFFD');
    expect(short.line).toBe('short');
    expect(truncate('ok')).toBe('ok');
  });

  it('stops on stop(), publishing what was written, a last line without its newline too', async () => {
    const file = join(dir, 'stop.log');
    const r = recorder();
    await writeFile(file, 'a\nb');
    const tail = tailFile(file, opts(r));
    await r.until(1);
    tail.stop();
    expect(await tail.done).toBe('stopped');
    expect(r.lines.map((l) => l.line)).toEqual(['a', 'b']);
  });

  it('treats a second start for the same run as the first', async () => {
    const file = join(dir, 'twice.log');
    const r = recorder();
    const options = opts(r);
    await writeFile(file, 'x\n');
    const first = tailFile(file, options);
    const second = tailFile(file, options);
    expect(second).toBe(first);
    await r.until(1);
    await appendFile(file, '=== Run Complete ===\n');
    expect(await first.done).toBe('sentinel');
    expect(r.lines.map((l) => l.line)).toEqual(['x']);
    // Once ended, a new start tails again.
    const again = tailFile(file, options);
    expect(again).not.toBe(first);
    again.stop();
    await again.done;
  });

  it('reads a file that was truncated from its start again', async () => {
    const file = join(dir, 'rotated.log');
    const r = recorder();
    await writeFile(file, 'old line one\nold line two\n');
    const tail = tailFile(file, opts(r));
    await r.until(2);
    await writeFile(file, 'new\n');
    await r.until(3);
    tail.stop();
    await tail.done;
    expect(r.lines.map((l) => l.line)).toEqual(['old line one', 'old line two', 'new']);
  });
});
