import { describe, expect, it } from 'vitest';
import { CancellationSource } from './cancellation.js';

describe('CancellationSource', () => {
  it('runs each listener once, on the first cancel', () => {
    const source = new CancellationSource();
    const calls: string[] = [];
    source.onCancel(() => calls.push('a'));
    source.onCancel(() => calls.push('b'));
    expect(source.cancelled).toBe(false);
    source.cancel();
    source.cancel();
    expect(source.cancelled).toBe(true);
    expect(calls).toEqual(['a', 'b']);
  });

  it('runs a listener added after the cancel at once, and never one that was removed', () => {
    const source = new CancellationSource();
    const calls: string[] = [];
    const remove = source.onCancel(() => calls.push('removed'));
    remove();
    source.cancel();
    source.onCancel(() => calls.push('late'));
    expect(calls).toEqual(['late']);
  });

  it('runs every listener when one throws, then rethrows the first error', () => {
    const source = new CancellationSource();
    const calls: string[] = [];
    source.onCancel(() => {
      throw new Error('first');
    });
    source.onCancel(() => calls.push('second'));
    expect(() => source.cancel()).toThrow('first');
    expect(calls).toEqual(['second']);
  });
});
