/**
 * Runs sends one at a time, in the order they were asked for. A zeromq v6 socket rejects a second
 * `send` while one is pending (EBUSY), so a burst of concurrent replies would otherwise lose every
 * reply but the first; queued here, each waits its turn and none is dropped.
 */
export class SendQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `send` after every send enqueued before it has settled; resolves or rejects with it. */
  enqueue(send: () => Promise<void>): Promise<void> {
    const result = this.tail.then(send);
    // The chain must survive a failed send, or one unreachable peer would block every later one.
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Settles once every send enqueued so far has settled. */
  async drained(): Promise<void> {
    await this.tail;
  }
}
