/**
 * How the pipeline tells a route adapter that it gave up on a dispatched call (its deadline passed),
 * so the adapter can drop what it holds for the call: the waiter for its reply, a frame still
 * queued. Not an AbortSignal: one is made for every call, and on Node 20 creating an
 * AbortController and listening on its signal cost more than the rest of a warm pipeline run.
 */
export interface Cancellation {
  readonly cancelled: boolean;
  /**
   * Runs `listener` once when the call is cancelled, or at once if it already was. Returns a
   * function that removes the listener.
   */
  onCancel(listener: () => void): () => void;
}

/** The pipeline's side: a `Cancellation` it can cancel. */
export class CancellationSource implements Cancellation {
  #cancelled = false;
  #listeners: (() => void)[] = [];

  get cancelled(): boolean {
    return this.#cancelled;
  }

  onCancel(listener: () => void): () => void {
    if (this.#cancelled) {
      listener();
      return () => undefined;
    }
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((candidate) => candidate !== listener);
    };
  }

  /** Cancels once; every listener runs, even when one before it throws (the first error is rethrown). */
  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    const listeners = this.#listeners;
    this.#listeners = [];
    let failure: { error: unknown } | undefined;
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  }
}
