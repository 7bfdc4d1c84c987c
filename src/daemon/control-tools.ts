import type { DispatchRequest, Dispatcher, PluginReply } from '../core/pipeline/route.js';
import type { RegisteredTool } from '../core/pipeline/tool-registry.js';
import { CarapaceError, isCarapaceError } from '../errors.js';
import { createArgumentsCompiler } from '../wire/argument-schema.js';
import { CONTROL_PLUGIN, CONTROL_TOPICS, type ToolCatalog } from '../wire/control.js';
import type { JsonObject, JsonValue } from '../wire/json.js';
import type { ManifestTool } from '../wire/manifest.js';
import { toTopic } from '../wire/names.js';
import type { ConfirmationDesk, PushToCaller } from './confirmation-desk.js';

export interface ControlToolDependencies {
  /** The catalog of the plugins running right now. */
  readonly catalog: () => ToolCatalog;
  /** One skill's text, or `undefined` when no running plugin has it. */
  readonly skill: (plugin: string, path: string) => string | undefined;
  readonly desk: ConfirmationDesk;
  /** How to reach the connection behind a session, for confirmation prompts. */
  readonly pushTo: (session: string) => PushToCaller | undefined;
}

const NO_ARGUMENTS: JsonObject = { type: 'object', properties: {}, additionalProperties: false };

const DEFINITIONS: readonly { name: string; description: string; arguments: JsonObject }[] = [
  { name: 'catalog', description: 'List the tools and skills of every running plugin.', arguments: NO_ARGUMENTS },
  {
    name: 'skill',
    description: 'Read one skill of a running plugin.',
    arguments: {
      type: 'object',
      properties: { plugin: { type: 'string', maxLength: 64 }, path: { type: 'string', maxLength: 255 } },
      required: ['plugin', 'path'],
      additionalProperties: false,
    },
  },
  { name: 'confirm_own_calls', description: 'Answer the confirmation prompts of the high-risk calls this connection makes.', arguments: NO_ARGUMENTS },
  { name: 'confirm_all_calls', description: 'Answer the confirmation prompts of every high-risk call.', arguments: NO_ARGUMENTS },
  {
    name: 'decide',
    description: 'Approve or deny a call whose confirmation prompt was sent to this connection.',
    arguments: {
      type: 'object',
      properties: { call: { type: 'string', minLength: 1, maxLength: 128 }, approve: { type: 'boolean' } },
      required: ['call', 'approve'],
      additionalProperties: false,
    },
  },
];

/** The core's own tools, registered under `carapace.` beside the plugins' tools. All low risk. */
export function controlTools(): RegisteredTool[] {
  const compile = createArgumentsCompiler();
  return DEFINITIONS.map((definition) => {
    const compiled = compile(definition.arguments);
    if (!compiled.ok) throw new CarapaceError('INTERNAL', `control tool ${definition.name}: ${compiled.message}`);
    const tool: ManifestTool = { ...definition, risk: 'low', validateArguments: compiled.validate };
    return { topic: toTopic(CONTROL_PLUGIN, definition.name), plugin: CONTROL_PLUGIN, tool };
  });
}

/**
 * The route port with the control tools in front of the plugins: `carapace.*` is answered here,
 * in-process, everything else goes to the plugin containers. The arguments were checked against
 * the schemas above by the pipeline; identity is the envelope's, built by the core.
 */
export function withControlTools(plugins: Dispatcher, deps: ControlToolDependencies): Dispatcher {
  return {
    isRunning: (plugin) => plugin === CONTROL_PLUGIN || plugins.isRunning(plugin),
    dispatch: (request, cancellation) =>
      request.plugin === CONTROL_PLUGIN ? Promise.resolve(serve(request, deps)) : plugins.dispatch(request, cancellation),
  };
}

function serve(request: DispatchRequest, deps: ControlToolDependencies): PluginReply {
  try {
    return { ok: true, result: run(request, deps) };
  } catch (error) {
    if (!isCarapaceError(error)) throw error;
    return { ok: false, error: { code: error.code, message: error.message } };
  }
}

function run(request: DispatchRequest, deps: ControlToolDependencies): JsonValue {
  const { envelope } = request;
  const args = envelope.arguments;
  switch (envelope.topic) {
    case CONTROL_TOPICS.catalog:
      return deps.catalog() as unknown as JsonValue;
    case CONTROL_TOPICS.skill: {
      const text = deps.skill(String(args['plugin']), String(args['path']));
      if (text === undefined) throw new CarapaceError('TOPIC_UNKNOWN', `no running plugin has the skill ${String(args['plugin'])}/${String(args['path'])}`);
      return { text };
    }
    case CONTROL_TOPICS.confirmOwnCalls:
    case CONTROL_TOPICS.confirmAllCalls: {
      const push = deps.pushTo(envelope.session);
      if (push === undefined) throw new CarapaceError('ROUTE_UNAVAILABLE', 'this connection cannot receive confirmation prompts');
      const scope = envelope.topic === CONTROL_TOPICS.confirmAllCalls ? 'all-calls' : 'own-calls';
      deps.desk.attach(envelope.session, scope, push);
      return { attached: scope };
    }
    case CONTROL_TOPICS.decide:
      deps.desk.decide(envelope.session, String(args['call']), args['approve'] === true);
      return { decided: args['call'] ?? null };
    default:
      throw new CarapaceError('TOPIC_UNKNOWN', `no control tool ${envelope.topic}`);
  }
}
