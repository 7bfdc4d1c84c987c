import { rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { XPublisher } from 'zeromq';
import type { CoreEvent } from '../core/core-event.js';
import { SendQueue } from './send-queue.js';
import { bindOwnerOnly, verifySocketDirectory } from './socket-file.js';

/** The core's event bus: a PUB socket subscribers filter by event type. */
export interface EventPublisher extends AsyncDisposable {
  readonly socketPath: string;
  /** Queues the event; delivery is best effort, as PUB/SUB is (a slow subscriber loses events, the core never waits). */
  publish(event: CoreEvent): void;
  /** Whether some subscriber listens for events of this type now. */
  isWatched(type: CoreEvent['type']): boolean;
  close(): Promise<void>;
}

/**
 * Binds the event bus at `socketPath` (0600, owner-only directory). Each event is two frames:
 * the type (so SUB sockets can subscribe to `plugin.` or `plugin.ready`) and the event as JSON.
 *
 * An XPUB socket rather than a PUB: it reports which prefixes subscribers hold, so an event
 * nobody listens for is neither serialised nor sent. `message.inbound` comes with every call, and
 * usually nobody listens. libzmq reports a prefix when its first subscriber arrives and again when
 * its last one leaves or disconnects, so a set of prefixes is the whole state. What it learns is
 * what a PUB's own filter learns: a subscription libzmq dropped (past a SUB's send high-water mark)
 * would have gone unanswered by a PUB too.
 */
export async function openEventPublisher(socketPath: string, onError: (error: Error) => void): Promise<EventPublisher> {
  const path = await verifySocketDirectory(dirname(socketPath), basename(socketPath));
  await rm(path, { force: true });
  // noDrop false, HWM bounded: a subscriber that stops reading costs the core bounded memory.
  const publisher = new XPublisher({ linger: 0, sendHighWaterMark: 1000 });
  await bindOwnerOnly(publisher, path, undefined, `the event bus ${path}`);
  const subscriptions = new Subscriptions();
  const watching = trackSubscriptions(publisher, subscriptions, onError);
  const queue = new SendQueue();
  let closed = false;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      closed = true;
      await queue.drained();
      publisher.close();
      await watching;
      await rm(path, { force: true });
    })();
    return closing;
  };
  return {
    socketPath: path,
    publish(event) {
      if (closed || !subscriptions.watch(event.type)) return;
      queue.enqueue(() => publisher.send([event.type, JSON.stringify(event)])).catch(onError);
    },
    isWatched: (type) => subscriptions.watch(type),
    close,
    [Symbol.asyncDispose]: close,
  };
}

const SUBSCRIBE = 1;
const UNSUBSCRIBE = 0;
/** Distinct prefixes tracked; past this the bus stops filtering and sends every event. */
const MAX_TRACKED_PREFIXES = 1024;

/** The prefixes subscribers hold. Bounded: a subscriber cannot grow it without limit. */
class Subscriptions {
  readonly #prefixes = new Set<string>();
  #saturated = false;

  watch(type: string): boolean {
    if (this.#saturated) return true;
    for (const prefix of this.#prefixes) if (type.startsWith(prefix)) return true;
    return false;
  }

  /** Applies one subscription message: a 1 or 0 byte, then the prefix. */
  apply(message: Buffer): void {
    if (message.length === 0) return;
    const prefix = message.subarray(1).toString('utf8');
    if (message[0] === UNSUBSCRIBE) this.#prefixes.delete(prefix);
    else if (message[0] !== SUBSCRIBE) return;
    else if (this.#prefixes.size < MAX_TRACKED_PREFIXES) this.#prefixes.add(prefix);
    // Too many to track: filtering is only a saving, so send everything from now on.
    else this.#saturated = true;
  }
}

/** Reads subscription messages into `subscriptions` until the socket closes. */
async function trackSubscriptions(publisher: XPublisher, subscriptions: Subscriptions, onError: (error: Error) => void): Promise<void> {
  try {
    for await (const [message] of publisher) if (message !== undefined) subscriptions.apply(message);
  } catch (error) {
    if (!publisher.closed) onError(error as Error);
  }
}
