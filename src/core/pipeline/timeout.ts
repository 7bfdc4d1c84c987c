import { callNow } from '../call-now.js';
import type { Clock } from '../clock.js';

export type Raced<T> = { readonly timedOut: false; readonly value: T } | { readonly timedOut: true };

/**
 * Runs `work` against a deadline on `clock`. On timeout `onTimeout` runs (the caller aborts or
 * cancels what `work` was given, so an adapter can drop what it was waiting for) and
 * `{ timedOut: true }` is returned; a late answer is ignored. A rejection from `work` before the
 * deadline is rethrown; one after it is already moot and is observed here, so it can never surface
 * as an unhandled rejection that kills the core.
 */
export async function raceTimeout<T>(work: () => Promise<T>, timeoutMs: number, clock: Clock, onTimeout: () => void): Promise<Raced<T>> {
  let cancel: () => void = () => undefined;
  const deadline = new Promise<{ readonly kind: 'timeout' }>((resolve) => {
    cancel = clock.schedule(timeoutMs, () => {
      resolve({ kind: 'timeout' });
      onTimeout();
    });
  });
  const settled = callNow(work).then(
    (value) => ({ kind: 'value' as const, value }),
    (error: unknown) => ({ kind: 'error' as const, error }),
  );
  try {
    const first = await Promise.race([settled, deadline]);
    if (first.kind === 'timeout') return { timedOut: true };
    if (first.kind === 'error') throw first.error;
    return { timedOut: false, value: first.value };
  } finally {
    cancel();
  }
}
