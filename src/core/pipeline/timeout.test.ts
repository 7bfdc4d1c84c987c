import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../test/support/pipeline-fakes.js';
import { raceTimeout } from './timeout.js';

describe('raceTimeout', () => {
  it('starts the work at once and returns its value', async () => {
    const clock = new FakeClock();
    let started = false;
    const raced = raceTimeout(async () => ((started = true), 42), 1000, clock, () => undefined);
    expect(started).toBe(true);
    await expect(raced).resolves.toEqual({ timedOut: false, value: 42 });
  });

  it('rethrows work that throws at once, as if it had rejected', async () => {
    const failing = (): Promise<never> => {
      throw new Error('no such plugin');
    };
    await expect(raceTimeout(failing, 1000, new FakeClock(), () => undefined)).rejects.toThrow('no such plugin');
  });

  it('calls onTimeout at the deadline and ignores a late rejection', async () => {
    const clock = new FakeClock();
    let timedOut = 0;
    let rejectLate!: (error: Error) => void;
    const raced = raceTimeout(() => new Promise<never>((_, reject) => (rejectLate = reject)), 500, clock, () => timedOut++);
    clock.advance(499);
    expect(timedOut).toBe(0);
    clock.advance(1);
    await expect(raced).resolves.toEqual({ timedOut: true });
    expect(timedOut).toBe(1);
    rejectLate(new Error('too late'));
    // An unhandled rejection would fail the test run.
    await new Promise((resolve) => setImmediate(resolve));
  });
});
