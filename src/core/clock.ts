/**
 * Time, as the core sees it. Injected wherever a decision depends on time (rate limits, timeouts,
 * timestamps), so tests can run a 10,000-call burst or a confirmation timeout without waiting.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `callback` once, `delayMs` from now; the returned function cancels it. */
  schedule(delayMs: number, callback: () => void): () => void;
}

/** The real clock: `Date.now` and `setTimeout`. */
export const systemClock: Clock = {
  now: () => Date.now(),
  schedule: (delayMs, callback) => {
    const timer = setTimeout(callback, delayMs);
    return () => clearTimeout(timer);
  },
};
