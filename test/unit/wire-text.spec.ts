import type { EventEnvelope } from '../../src/events/envelope.js';
import { batchText, rememberText } from '../../src/events/wire-text.js';

const ev = (n: number, note = 'ok'): EventEnvelope =>
  ({
    id: `${n}-0`,
    type: 'task.status.changed',
    projectId: 'p',
    occurredAt: new Date(n).toISOString(),
    source: 'test',
    data: { taskId: `t${n}`, status: 'active', note },
  }) as unknown as EventEnvelope;

/** A live message as a replica receives it: the text, and the events parsed from it. */
function received(events: EventEnvelope[]): EventEnvelope[] {
  const text = JSON.stringify(events);
  const parsed = JSON.parse(text) as EventEnvelope[];
  rememberText(parsed, text);
  return parsed;
}

describe('batch text from live messages', () => {
  it('is JSON.stringify of the batch for one whole message, several in a row, and anything else', () => {
    const a = received([ev(1), ev(2, 'ünïcødé \u2028 "quoted" \\ 😀')]);
    const b = received([ev(3)]);
    const c = received([ev(4), ev(5)]);
    const loose = JSON.parse(JSON.stringify([ev(6)])) as EventEnvelope[];
    for (const batch of [
      a,
      [...a, ...b, ...c],
      [...b, ...c],
      a.slice(1),
      [...a, c[1]],
      [...c, ...loose],
      [],
    ]) {
      expect(batchText(batch)).toBe(JSON.stringify(batch));
    }
  });

  it('reuses the received text when the batch is exactly that message', () => {
    const text = JSON.stringify([ev(7)]).replace('"p"', '"p" ');
    const parsed = JSON.parse(text) as EventEnvelope[];
    rememberText(parsed, text);
    // Not what JSON.stringify gives (the extra space), so the text must have come from the message.
    expect(batchText(parsed)).toBe(text);
    expect(batchText([...parsed])).toBe(text);
    expect(batchText([parsed[0], ev(8)])).toBe(JSON.stringify([parsed[0], ev(8)]));
  });
});
