import type { HomeLayout } from '../config/carapace-home.js';
import { connectCallerClient, type CallerClient } from '../transport/caller-client.js';
import { DEFAULT_WIRE_LIMITS } from '../wire/message.js';

/**
 * A connection to the running core of `layout`'s home, as the operator: the CLI's way in (it may
 * not reach the transport itself). Calls made on it pass the core's full pipeline.
 */
export function connectToCore(layout: HomeLayout): CallerClient {
  return connectCallerClient({ socketPath: layout.callerSocket, limits: DEFAULT_WIRE_LIMITS });
}
