/**
 * Calls `work` now, in this turn, rather than from a `.then` a turn later; a `work` that throws
 * before it returns its promise is handled like one that rejects.
 */
export function callNow<T>(work: () => Promise<T>): Promise<T> {
  try {
    return work();
  } catch (error) {
    return Promise.reject(error);
  }
}
