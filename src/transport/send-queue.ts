import { callNow } from '../core/call-now.js';
import type { Cancellation } from '../core/pipeline/cancellation.js';
import { CarapaceError } from '../errors.js';

/**
 * Runs sends one at a time, in the order they were asked for. A zeromq v6 socket rejects a second
 * `send` while one is pending (EBUSY), so a burst of concurrent replies would otherwise lose every
 * reply but the first; queued here, each waits its turn and none is dropped.
 */
export class SendQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  /** Sends enqueued and not yet settled: how far behind the peer is. */
  get depth(): number {
    return this.waiting;
  }

  /**
   * Runs `send` after every send enqueued before it has settled; resolves or rejects with it. If
   * `cancellation` is cancelled by the time its turn comes (its caller gave up), the send is skipped and
   * rejects with `ROUTE_UNAVAILABLE`: a peer that stopped reading must not be handed a backlog of
   * frames nobody waits for.
   */
  enqueue(send: () => Promise<void>, cancellation?: Cancellation): Promise<void> {
    const run = (): Promise<void> => {
      if (cancellation?.cancelled === true) throw new CarapaceError('ROUTE_UNAVAILABLE', 'the frame was given up before it could be sent');
      return send();
    };
    // An idle queue starts the send now: the common case, one reply at a time, pays no extra turn.
    const started = this.waiting === 0 ? callNow(run) : this.tail.then(run);
    this.waiting++;
    const result = started.finally(() => void this.waiting--);
    // The chain must survive a failed send, or one unreachable peer would block every later one.
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Settles once every send enqueued so far has settled. */
  async drained(): Promise<void> {
    await this.tail;
  }
}
