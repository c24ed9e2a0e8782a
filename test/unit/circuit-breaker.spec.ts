import { CircuitBreaker, type BreakerState } from '../../src/core/support/circuit-breaker.js';
import { GatewayError, UnavailableError } from '../../src/core/errors.js';

describe('circuit breaker', () => {
  let now = 0;
  let states: BreakerState[];
  const make = () => {
    states = [];
    return new CircuitBreaker({
      failures: 5,
      openMs: 60_000,
      isFailure: (e) => e instanceof UnavailableError,
      onStateChange: (s) => states.push(s),
      now: () => now,
    });
  };
  const down = () => Promise.reject(new UnavailableError('down'));
  const ok = () => Promise.resolve('ok');

  beforeEach(() => {
    now = 0;
  });

  it('stays closed below the failure count, and a success resets the count', async () => {
    const breaker = make();
    for (let i = 0; i < 4; i++) await expect(breaker.run(down)).rejects.toThrow('down');
    await expect(breaker.run(ok)).resolves.toBe('ok');
    for (let i = 0; i < 4; i++) await expect(breaker.run(down)).rejects.toThrow('down');
    expect(breaker.state).toBe('closed');
    expect(states).toEqual([]);
  });

  it('opens after 5 consecutive failures and then fails at once without calling', async () => {
    const breaker = make();
    for (let i = 0; i < 5; i++) await expect(breaker.run(down)).rejects.toThrow('down');
    expect(breaker.state).toBe('open');
    const work = jest.fn(ok);
    now += 59_000;
    const refused = await breaker.run(work).catch((e: unknown) => e);
    expect(work).not.toHaveBeenCalled();
    expect(refused).toBeInstanceOf(GatewayError);
    expect((refused as GatewayError).code).toBe('UNAVAILABLE');
    expect((refused as GatewayError).message).toMatch(/circuit open/);
    expect((refused as GatewayError).retryAfterSeconds).toBe(1);
  });

  it('half-opens after the open time: one probe at a time; its success closes the breaker', async () => {
    const breaker = make();
    for (let i = 0; i < 5; i++) await expect(breaker.run(down)).rejects.toThrow();
    now += 60_000;
    expect(breaker.state).toBe('half-open');
    let finish!: (v: string) => void;
    const probe = breaker.run(() => new Promise<string>((r) => (finish = r)));
    await expect(breaker.run(ok)).rejects.toThrow(/circuit open/);
    finish('probed');
    await expect(probe).resolves.toBe('probed');
    expect(breaker.state).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  it('a failed probe opens it again for another full period', async () => {
    const breaker = make();
    for (let i = 0; i < 5; i++) await expect(breaker.run(down)).rejects.toThrow();
    now += 60_000;
    await expect(breaker.run(down)).rejects.toThrow('down');
    expect(breaker.state).toBe('open');
    now += 59_999;
    expect(breaker.state).toBe('open');
    now += 1;
    expect(breaker.state).toBe('half-open');
  });

  it('does not count errors that are not failures of the dependency (bad input)', async () => {
    const breaker = make();
    const bad = () => Promise.reject(new GatewayError('INVALID_PAYLOAD', 'bad'));
    for (let i = 0; i < 10; i++) await expect(breaker.run(bad)).rejects.toThrow('bad');
    expect(breaker.state).toBe('closed');
  });
});
