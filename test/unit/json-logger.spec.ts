import { Writable } from 'node:stream';
import { JsonLogger } from '../../src/core/support/json-logger.js';

/** A logger writing into an array of parsed lines. */
function capture(level?: 'debug' | 'info' | 'warn' | 'error') {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: new JsonLogger(level, { service: 'gateway' }, sink), lines };
}

describe('JsonLogger', () => {
  it('writes one JSON object per line: level by name, ISO time, message, base and event fields', () => {
    const { logger, lines } = capture();
    logger.event('warn', 'slow viewer', { socket: 's1', bufferedBytes: 10 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      msg: 'slow viewer',
      service: 'gateway',
      socket: 's1',
      bufferedBytes: 10,
    });
    expect(new Date(lines[0].time as string).toISOString()).toBe(lines[0].time);
  });

  it('never writes the value of a field that looks like a credential, in events or Nest lines', () => {
    const { logger, lines } = capture();
    logger.event('info', 'auth', { token: 'eyJ.secret', Authorization: 'Bearer x', ticket: 't' });
    logger.event('info', 'nested', { apiSecret: 'hidden' });
    logger.log({ password: 'p', user: 'u' });
    const text = JSON.stringify(lines);
    for (const secret of ['eyJ.secret', 'Bearer x', '"t"', 'hidden', '"p"']) {
      expect(text).not.toContain(secret);
    }
    expect(lines[0]).toMatchObject({ token: '[redacted]', Authorization: '[redacted]' });
    expect(lines[2]).toMatchObject({ user: 'u', password: '[redacted]' });
  });

  it('skips levels below its own and takes Nest errors with their stack and context', () => {
    const { logger, lines } = capture('info');
    logger.debug('not written');
    logger.error('boom', 'Error: boom\n    at x', 'Bootstrap');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'error', msg: 'boom', context: 'Bootstrap' });
    expect(lines[0].stack).toContain('at x');
  });
});
