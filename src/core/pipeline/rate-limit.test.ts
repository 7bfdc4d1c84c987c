import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../test/support/pipeline-fakes.js';
import { CarapaceError } from '../../errors.js';
import { CallRateLimiter, TokenBucket } from './rate-limit.js';

describe('TokenBucket', () => {
  it('lets exactly its capacity through a 10,000-call burst when time stands still', () => {
    const bucket = new TokenBucket({ capacity: 100, refillPerSecond: 10 }, new FakeClock());
    let allowed = 0;
    for (let call = 0; call < 10_000; call += 1) {
      if (bucket.waitMs() === 0) {
        bucket.take();
        allowed += 1;
      }
    }
    expect(allowed).toBe(100);
  });

  it('refills at its rate, never past capacity, and says how long to wait', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ capacity: 2, refillPerSecond: 4 }, clock);
    bucket.take();
    bucket.take();
    expect(bucket.waitMs()).toBe(250);
    clock.advance(249);
    expect(bucket.waitMs()).toBe(1);
    clock.advance(1);
    expect(bucket.waitMs()).toBe(0);
    clock.advance(60_000);
    bucket.take();
    bucket.take();
    expect(bucket.waitMs()).toBeGreaterThan(0);
  });

  it('neither drains nor overfills when the wall clock steps backwards', () => {
    const clock = new FakeClock(1_000_000);
    const bucket = new TokenBucket({ capacity: 1, refillPerSecond: 1 }, clock);
    bucket.take();
    clock.set(0);
    expect(bucket.waitMs()).toBe(1000);
    clock.advance(1000);
    expect(bucket.waitMs()).toBe(0);
  });

  it('refuses a limit that would disable or break limiting', () => {
    for (const limit of [{ capacity: 0, refillPerSecond: 1 }, { capacity: 1.5, refillPerSecond: 1 }, { capacity: 1, refillPerSecond: 0 }, { capacity: 1, refillPerSecond: Number.NaN }]) {
      expect(() => new TokenBucket(limit, new FakeClock())).toThrowError(CarapaceError);
    }
  });
});

describe('CallRateLimiter', () => {
  const limits = { perTool: { capacity: 5, refillPerSecond: 1 }, perCaller: { capacity: 3, refillPerSecond: 1 } };

  it('limits each caller separately and each tool across callers', () => {
    const limiter = new CallRateLimiter(limits, new FakeClock());
    const take = (caller: string, topic = 'echo.say'): string => {
      const decision = limiter.tryTake(topic, caller);
      return decision.ok ? 'ok' : decision.limitedBy;
    };
    expect([take('a'), take('a'), take('a'), take('a')]).toEqual(['ok', 'ok', 'ok', 'caller']);
    expect([take('b'), take('b'), take('b')]).toEqual(['ok', 'ok', 'tool']);
    expect(take('b', 'memory.store')).toBe('ok');
  });

  it('takes from both buckets or from neither', () => {
    const clock = new FakeClock();
    const limiter = new CallRateLimiter({ perTool: { capacity: 1, refillPerSecond: 1 }, perCaller: { capacity: 10, refillPerSecond: 1 } }, clock);
    expect(limiter.tryTake('echo.say', 'a').ok).toBe(true);
    // 9 refusals by the tool bucket must not have spent any of the caller's tokens.
    for (let call = 0; call < 9; call += 1) expect(limiter.tryTake('echo.say', 'a')).toMatchObject({ ok: false, limitedBy: 'tool', retryAfterMs: 1000 });
    for (let call = 0; call < 9; call += 1) expect(limiter.tryTake(`t.t${String(call)}`, 'a').ok).toBe(true);
  });
});
