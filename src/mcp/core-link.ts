import type { HomeLayout } from '../config/carapace-home.js';
import { connectAsAgent, watchPluginChanges } from '../daemon/core-client.js';
import { CarapaceError, isErrorCode } from '../errors.js';
import { CONTROL_TOPICS, parseSkillText, parseToolCatalog, type ConfirmationPrompt, type ToolCatalog } from '../wire/control.js';
import type { JsonObject, JsonValue } from '../wire/json.js';
import type { WireReply } from '../wire/message.js';

export interface CoreLinkOptions {
  /** How long a tool call may take, confirmation included, before the MCP side gives up on it. */
  readonly callTimeoutMs: number;
  /** How long a control call (catalog, skill, decide) may take. */
  readonly controlTimeoutMs?: number;
}

/**
 * One MCP session's connection to the core, on the agent socket: its calls are the `agent`
 * group's and pass the full pipeline. Everything it asks of the core is an ordinary call.
 */
export class CoreLink implements AsyncDisposable {
  private promptHandler: ((prompt: ConfirmationPrompt) => void) | undefined;
  private readonly client;
  private readonly controlTimeoutMs: number;

  constructor(
    private readonly layout: HomeLayout,
    private readonly options: CoreLinkOptions,
  ) {
    this.client = connectAsAgent(layout, (prompt) => this.promptHandler?.(prompt));
    this.controlTimeoutMs = options.controlTimeoutMs ?? 10_000;
  }

  async catalog(): Promise<ToolCatalog> {
    return parseToolCatalog(await this.control(CONTROL_TOPICS.catalog, {}));
  }

  async skill(plugin: string, path: string): Promise<string> {
    return parseSkillText(await this.control(CONTROL_TOPICS.skill, { plugin, path }));
  }

  call(topic: string, args: JsonObject): Promise<WireReply> {
    return this.client.call({ topic, arguments: args }, this.options.callTimeoutMs);
  }

  /** From now on the core asks this connection to confirm the high-risk calls it makes. */
  async confirmOwnCalls(onPrompt: (prompt: ConfirmationPrompt) => void): Promise<void> {
    this.promptHandler = onPrompt;
    await this.control(CONTROL_TOPICS.confirmOwnCalls, {});
  }

  async decide(call: string, approve: boolean): Promise<void> {
    await this.control(CONTROL_TOPICS.decide, { call, approve });
  }

  /** Calls `onChange` when a plugin starts or stops. Dispose the result to stop watching. */
  watchPlugins(onChange: () => void): { close(): void } {
    return watchPluginChanges(this.layout, onChange);
  }

  close(): void {
    this.client.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  private async control(topic: string, args: JsonObject): Promise<JsonValue> {
    const reply = await this.client.call({ topic, arguments: args }, this.controlTimeoutMs);
    if (!reply.ok) throw new CarapaceError(isErrorCode(reply.error.code) ? reply.error.code : 'PLUGIN_ERROR', `${topic}: ${reply.error.message}`);
    return reply.result;
  }
}
