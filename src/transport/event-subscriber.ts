import { Subscriber } from 'zeromq';

/** A subscription to the core's event bus. */
export interface EventSubscription {
  close(): void;
}

/**
 * Connects a SUB socket to the core's event bus and calls `onEvent` with the type of each event
 * whose type starts with one of `prefixes`. Only the type frame is read: a subscriber that wants
 * details asks the core, so nothing here depends on an event's body. Connecting is lazy, as in
 * all of ZeroMQ: events published before the core is up, or while it restarts, are missed.
 */
export function subscribeToEvents(
  socketPath: string,
  prefixes: readonly string[],
  onEvent: (type: string) => void,
  onError: (error: unknown) => void = () => undefined,
): EventSubscription {
  const subscriber = new Subscriber({ linger: 0 });
  subscriber.connect(`ipc://${socketPath}`);
  for (const prefix of prefixes) subscriber.subscribe(prefix);
  let closed = false;
  void (async () => {
    try {
      for await (const [type] of subscriber) if (type !== undefined) onEvent(type.toString('utf8'));
    } catch (error) {
      if (!closed) onError(error);
    }
  })();
  return {
    close() {
      closed = true;
      subscriber.close();
    },
  };
}
