import { constants, inflateRawSync } from 'node:zlib';
import type { EventEnvelope } from '../../src/core/envelope.js';
import { EventsFrame, frame } from '../../src/transports/socketio/event-frames.js';

const envelope = (n: number): EventEnvelope => ({
  id: `1732190000000-${n}`,
  type: 'task.status.changed',
  projectId: 'p1',
  occurredAt: '2026-11-21T10:00:00.000Z',
  source: 'svc',
  data: { taskId: `t${n}`, from: null, to: 'active' },
});

/** A frame's header and payload (RFC 6455 5.2, unmasked). */
const split = (bytes: Buffer): [Buffer, Buffer] => {
  const length = bytes[1] & 0x7f;
  const headerLength = length < 126 ? 2 : length === 126 ? 4 : 10;
  return [bytes.subarray(0, headerLength), bytes.subarray(headerLength)];
};

/** What a permessage-deflate receiver does (RFC 7692 7.2.2). */
const inflate = (body: Buffer) =>
  inflateRawSync(Buffer.concat([body, Buffer.from([0, 0, 0xff, 0xff])]), {
    finishFlush: constants.Z_SYNC_FLUSH,
  });

describe('events frames: serialized once, framed once, compressed once', () => {
  it('frames text with the 7-bit, 16-bit and 64-bit length forms, unmasked, FIN set', () => {
    const [short, shortPayload] = split(frame(Buffer.alloc(125, 7), false));
    expect([...short]).toEqual([0x81, 125]);
    expect(shortPayload.equals(Buffer.alloc(125, 7))).toBe(true);
    const [medium, mediumPayload] = split(frame(Buffer.alloc(126, 8), true));
    expect([...medium]).toEqual([0xc1, 126, 0, 126]);
    expect(mediumPayload.equals(Buffer.alloc(126, 8))).toBe(true);
    const [long, longPayload] = split(frame(Buffer.alloc(70_000, 9), false));
    expect(long[0]).toBe(0x81);
    expect(long[1]).toBe(127);
    expect(long.readBigUInt64BE(2)).toBe(70_000n);
    expect(longPayload.equals(Buffer.alloc(70_000, 9))).toBe(true);
  });

  it('is the Socket.IO event packet a client parses as events', () => {
    const batch = new EventsFrame(JSON.stringify([envelope(1), envelope(2)]));
    expect(batch.packet.startsWith('2["events",')).toBe(true);
    expect(JSON.parse(batch.packet.slice(1))).toEqual(['events', [envelope(1), envelope(2)]]);
    expect(batch.plain).toHaveLength(1); // one write per viewer
    const [header, payload] = split(batch.plain[0]);
    expect(header[0]).toBe(0x81);
    expect(payload.toString()).toBe(`4${batch.packet}`);
  });

  it('compresses a batch into a frame that inflates back to the same message, much smaller', () => {
    const batch = new EventsFrame(
      JSON.stringify(Array.from({ length: 30 }, (_, i) => envelope(i))),
    );
    const deflated = batch.deflated;
    expect(deflated).not.toBeNull();
    const [header, body] = split(deflated![0]);
    expect(header[0] & 0x40).toBe(0x40); // RSV1: compressed
    expect(inflate(body).toString()).toBe(`4${batch.packet}`);
    expect(body.length).toBeLessThan(split(batch.plain[0])[1].length / 4);
  });

  it('leaves small frames plain (compressing them would not pay)', () => {
    expect(new EventsFrame(JSON.stringify([envelope(1)])).deflated).toBeNull();
  });
});
