import type { HomeLayout } from '../config/carapace-home.js';
import { connectCallerClient, type CallerClient } from '../transport/caller-client.js';
import { subscribeToEvents, type EventSubscription } from '../transport/event-subscriber.js';
import type { ConfirmationPrompt } from '../wire/control.js';
import { DEFAULT_WIRE_LIMITS } from '../wire/message.js';

/**
 * A connection to the running core of `layout`'s home, as the operator: the CLI's way in (it may
 * not reach the transport itself). Calls made on it pass the core's full pipeline.
 */
export function connectToCore(layout: HomeLayout, onConfirmationPrompt?: (prompt: ConfirmationPrompt) => void): CallerClient {
  return connect(layout.callerSocket, onConfirmationPrompt);
}

/** A connection on the agent socket: calls made on it are the `agent` group's. */
export function connectAsAgent(layout: HomeLayout, onConfirmationPrompt?: (prompt: ConfirmationPrompt) => void): CallerClient {
  return connect(layout.agentSocket, onConfirmationPrompt);
}

function connect(socketPath: string, onConfirmationPrompt: ((prompt: ConfirmationPrompt) => void) | undefined): CallerClient {
  return connectCallerClient({ socketPath, limits: DEFAULT_WIRE_LIMITS, ...(onConfirmationPrompt === undefined ? {} : { onConfirmationPrompt }) });
}

/** Calls `onChange` whenever a plugin becomes ready or stops (added, stopped, crashed). */
export function watchPluginChanges(layout: HomeLayout, onChange: () => void): EventSubscription {
  return subscribeToEvents(layout.eventSocket, ['plugin.'], onChange);
}
