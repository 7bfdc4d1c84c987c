/**
 * The plugin SDK: what runs inside a plugin container. A plugin's entry point is one call:
 *
 * ```ts
 * import { runPlugin } from './plugin-sdk/index.js';
 * await runPlugin({ name: 'echo', tools: { say: (args) => ({ said: args['text'] ?? null }) } });
 * ```
 */
export { runPlugin, DEFAULT_SOCKET_PATH, DEFAULT_SHUTDOWN_GRACE_MS } from './run-plugin.js';
export type { RunPluginOptions, ToolContext, ToolHandler, SignalSource } from './run-plugin.js';
export { readCredentialsOnce } from './read-credentials.js';
export { parseCoreMessage, READY_MESSAGE } from './plugin-protocol.js';
export type { CoreMessage, PluginCall, PluginShutdown } from './plugin-protocol.js';
export type { CredentialMap } from '../wire/credential-message.js';
export type { JsonObject, JsonValue } from '../wire/json.js';
