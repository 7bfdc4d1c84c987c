import { rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { Publisher } from 'zeromq';
import type { CoreEvent } from '../core/core-event.js';
import { SendQueue } from './send-queue.js';
import { bindOwnerOnly, verifySocketDirectory } from './socket-file.js';

/** The core's event bus: a PUB socket subscribers filter by event type. */
export interface EventPublisher extends AsyncDisposable {
  readonly socketPath: string;
  /** Queues the event; delivery is best effort, as PUB/SUB is (a slow subscriber loses events, the core never waits). */
  publish(event: CoreEvent): void;
  close(): Promise<void>;
}

/**
 * Binds the event bus at `socketPath` (0600, owner-only directory). Each event is two frames:
 * the type (so SUB sockets can subscribe to `plugin.` or `plugin.ready`) and the event as JSON.
 */
export async function openEventPublisher(socketPath: string, onError: (error: Error) => void): Promise<EventPublisher> {
  const path = await verifySocketDirectory(dirname(socketPath), basename(socketPath));
  await rm(path, { force: true });
  // noDrop false, HWM bounded: a subscriber that stops reading costs the core bounded memory.
  const publisher = new Publisher({ linger: 0, sendHighWaterMark: 1000 });
  await bindOwnerOnly(publisher, path, undefined, `the event bus ${path}`);
  const queue = new SendQueue();
  let closed = false;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      closed = true;
      await queue.drained();
      publisher.close();
      await rm(path, { force: true });
    })();
    return closing;
  };
  return {
    socketPath: path,
    publish(event) {
      if (closed) return;
      queue.enqueue(() => publisher.send([event.type, JSON.stringify(event)])).catch(onError);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
