import { OutgoingQueue } from '../../src/client/outgoing-queue.js';
import { GatewayClientError } from '../../src/client/types.js';

/** A send the test answers by hand: each call waits until the test settles it. */
function manualSend() {
  const calls: { item: string; ok(r: string): void; fail(e: unknown): void }[] = [];
  let notify: (() => void) | null = null;
  return {
    calls,
    send: (item: string) =>
      new Promise<string>((ok, fail) => {
        calls.push({ item, ok, fail });
        notify?.();
      }),
    async nextCall(n: number) {
      while (calls.length < n) await new Promise<void>((r) => (notify = r));
      return calls[n - 1];
    },
  };
}

const unavailable = () => new GatewayClientError('UNAVAILABLE', 'down', false, true);

describe('client outgoing queue', () => {
  const make = (send: (item: string) => Promise<string>, extra: object = {}) =>
    new OutgoingQueue<string, string>({
      send,
      maxQueued: 3,
      ttlMs: 60_000,
      initialBackoffMs: 60_000,
      maxBackoffMs: 60_000,
      ...extra,
    });

  it('sends one write at a time, in the order they were made', async () => {
    const m = manualSend();
    const q = make(m.send);
    const results = ['a', 'b', 'c'].map((x) => q.enqueue(x));
    (await m.nextCall(1)).ok('A');
    (await m.nextCall(2)).ok('B');
    (await m.nextCall(3)).ok('C');
    expect(await Promise.all(results)).toEqual(['A', 'B', 'C']);
    expect(m.calls.map((c) => c.item)).toEqual(['a', 'b', 'c']);
    expect(q.size).toBe(0);
  });

  it('keeps a write that could not go at the head, and sends it again when woken, before the others', async () => {
    const m = manualSend();
    const q = make(m.send);
    const a = q.enqueue('a');
    const b = q.enqueue('b');
    (await m.nextCall(1)).fail(unavailable());
    // Backing off (a minute): nothing is sent until the connection is back.
    await new Promise((r) => setImmediate(r));
    expect(m.calls).toHaveLength(1);
    q.wake();
    (await m.nextCall(2)).ok('A');
    (await m.nextCall(3)).ok('B');
    expect([await a, await b]).toEqual(['A', 'B']);
    expect(m.calls.map((c) => c.item)).toEqual(['a', 'a', 'b']);
  });

  it('refuses a write past the bound with QUEUE_FULL, at once, and keeps the others', async () => {
    const m = manualSend();
    const q = make(m.send);
    const kept = ['a', 'b', 'c'].map((x) => q.enqueue(x));
    await expect(q.enqueue('d')).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    expect(q.size).toBe(3);
    q.close();
    for (const p of kept) await expect(p).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(q.enqueue('e')).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('refuses a write that waited past its time with EXPIRED, wherever it waits', async () => {
    let now = 0;
    const m = manualSend();
    const q = make(m.send, { now: () => now, ttlMs: 1000 });
    const a = q.enqueue('a');
    now = 500;
    const b = q.enqueue('b');
    (await m.nextCall(1)).fail(unavailable());
    now = 1200;
    q.wake();
    await expect(a).rejects.toMatchObject({ code: 'EXPIRED' });
    (await m.nextCall(2)).ok('B');
    expect(await b).toBe('B');
  });

  it('hands a refusal that retrying cannot cure to its caller, and goes on with the next', async () => {
    const m = manualSend();
    const q = make(m.send);
    const a = q.enqueue('a');
    const b = q.enqueue('b');
    (await m.nextCall(1)).fail(new GatewayClientError('INVALID_PAYLOAD', 'bad'));
    await expect(a).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
    (await m.nextCall(2)).ok('B');
    expect(await b).toBe('B');
  });
});
