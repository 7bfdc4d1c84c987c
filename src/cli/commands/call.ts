import { homeLayout } from '../../config/carapace-home.js';
import { loadConfig } from '../../config/config-file.js';
import { connectToCore } from '../../daemon/core-client.js';
import { readLiveCore } from '../../daemon/pid-lock.js';
import { CarapaceError, isCarapaceError, isErrorCode } from '../../errors.js';
import { isJsonObject, parseJsonText, type JsonObject } from '../../wire/json.js';
import { DEFAULT_WIRE_LIMITS } from '../../wire/message.js';
import type { CommandContext, CommandResult } from '../command-result.js';

// Beyond the call and confirmation timeouts, time for the frame to cross the sockets.
const REPLY_MARGIN_MS = 5000;

/**
 * `carapace call TOOL [JSON]`: one tool call through the running core's full pipeline, as the
 * operator. The reply's error code becomes the exit status; the result is printed as JSON.
 */
export async function call(ctx: CommandContext, topic: string, argumentsJson: string | undefined): Promise<CommandResult> {
  const args = parseCallArguments(argumentsJson);
  const layout = homeLayout(ctx.home);
  if ((await readLiveCore(layout.pidFile)) === undefined) {
    throw new CarapaceError('CORE_NOT_RUNNING', `no core is running for ${ctx.home}; start it with carapace start`);
  }
  const { config } = await loadConfig(layout.configFile);
  await using client = connectToCore(layout);
  const reply = await client.call({ topic, arguments: args }, config.calls.timeout_ms + config.calls.confirm_timeout_ms + REPLY_MARGIN_MS);
  if (reply.ok) {
    return { text: JSON.stringify(reply.result, null, 2), data: { ok: true, topic, result: reply.result } };
  }
  // A plugin may report its own codes; anything outside Carapace's set is a plugin error.
  const code = isErrorCode(reply.error.code) ? reply.error.code : 'PLUGIN_ERROR';
  return {
    text: `${topic}: ${reply.error.code}: ${reply.error.message}`,
    data: { ok: false, topic, error: reply.error },
    failure: new CarapaceError(code, reply.error.message, { details: { topic, code: reply.error.code } }),
  };
}

/** The arguments as given on the command line: a JSON object, `{}` when absent. */
export function parseCallArguments(text: string | undefined): JsonObject {
  if (text === undefined) return {};
  let value;
  try {
    value = parseJsonText(text, { maxDepth: DEFAULT_WIRE_LIMITS.maxDepth });
  } catch (error) {
    throw new CarapaceError('CLI_USAGE', `arguments are not valid JSON: ${isCarapaceError(error) ? error.message : 'unreadable'}`, { cause: error });
  }
  if (!isJsonObject(value)) throw new CarapaceError('CLI_USAGE', 'arguments must be a JSON object, such as {"text":"hi"}');
  return value;
}
