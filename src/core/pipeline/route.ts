import { CarapaceError, isCarapaceError } from '../../errors.js';
import type { JsonValue } from '../../wire/json.js';
import type { Clock } from '../clock.js';
import { CancellationSource, type Cancellation } from './cancellation.js';
import type { Envelope } from './envelope.js';
import { raceTimeout } from './timeout.js';
import type { RegisteredTool } from './tool-registry.js';

/** A call on its way to the plugin container that declared the tool. */
export interface DispatchRequest {
  readonly envelope: Envelope;
  readonly plugin: string;
  readonly tool: string;
}

/** The plugin's answer, as the transport adapter parsed it (`parseWireReply`). */
export type PluginReply =
  | { readonly ok: true; readonly result: JsonValue }
  | { readonly ok: false; readonly error: { readonly code: string; readonly message: string } };

/**
 * The port to running plugins (the ZeroMQ transport). `dispatch` resolves with the plugin's reply;
 * it may reject with `ROUTE_UNAVAILABLE` if the plugin stopped meanwhile; any other rejection is
 * treated as the plugin failing. On timeout the pipeline cancels `cancellation`.
 */
export interface Dispatcher {
  isRunning(plugin: string): boolean;
  dispatch(request: DispatchRequest, cancellation: Cancellation): Promise<PluginReply>;
}

export type RouteOutcome =
  | { readonly kind: 'result'; readonly result: JsonValue }
  | { readonly kind: 'plugin-error'; readonly pluginCode: string | undefined; readonly reason: string }
  | { readonly kind: 'timeout'; readonly reason: string }
  | { readonly kind: 'unavailable'; readonly reason: string };

/** Stage 6, before dispatch: the declaring plugin must be running (`ROUTE_UNAVAILABLE`). */
export function verifyRoutable(registered: RegisteredTool, dispatcher: Dispatcher): void {
  if (!dispatcher.isRunning(registered.plugin)) {
    throw new CarapaceError('ROUTE_UNAVAILABLE', `plugin ${registered.plugin} is not running`, { details: { plugin: registered.plugin } });
  }
}

/**
 * Stage 6: sends the call to the plugin that declared the tool, and only to it, with a deadline.
 * Only a reply that is exactly `{ ok: true, result }` counts as success; an error reply, a
 * malformed reply, or a dispatcher that throws is a plugin error, never a success.
 */
export async function dispatchCall(
  envelope: Envelope,
  registered: RegisteredTool,
  dispatcher: Dispatcher,
  options: { readonly timeoutMs: number; readonly clock: Clock },
): Promise<RouteOutcome> {
  const request: DispatchRequest = { envelope, plugin: registered.plugin, tool: registered.tool.name };
  let raced;
  try {
    const cancellation = new CancellationSource();
    raced = await raceTimeout(() => dispatcher.dispatch(request, cancellation), options.timeoutMs, options.clock, () => cancellation.cancel());
  } catch (error) {
    if (isCarapaceError(error) && error.code === 'ROUTE_UNAVAILABLE') return { kind: 'unavailable', reason: error.message };
    // The transport's message stays out of the reply (and so the caller's view): it may name host paths.
    return { kind: 'plugin-error', pluginCode: undefined, reason: `dispatch to ${registered.plugin} failed` };
  }
  if (raced.timedOut) return { kind: 'timeout', reason: `${registered.plugin} did not answer ${envelope.topic} within ${String(options.timeoutMs)} ms` };
  return toRouteOutcome(raced.value);
}

// The reply crossed an adapter and came from a container: it is checked as `unknown`, not trusted
// to match its type.
function toRouteOutcome(reply: unknown): RouteOutcome {
  if (isRecord(reply) && reply['ok'] === true && reply['result'] !== undefined && !Object.hasOwn(reply, 'error')) {
    return { kind: 'result', result: reply['result'] as JsonValue };
  }
  if (isRecord(reply) && reply['ok'] === false && isRecord(reply['error'])) {
    const { code, message } = reply['error'];
    return {
      kind: 'plugin-error',
      pluginCode: typeof code === 'string' ? code : undefined,
      reason: typeof message === 'string' ? message : 'the plugin reported an error without a message',
    };
  }
  return { kind: 'plugin-error', pluginCode: undefined, reason: 'the plugin sent a malformed reply' };
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
