import { z } from 'zod';
import { CarapaceError } from '../errors.js';
import { decodeJsonFrame, narrowWireReply, type WireLimits, type WireReply } from './message.js';
import { isJsonObject, type JsonObject, type JsonValue } from './json.js';
import { TOOL_RISKS, type ToolRisk } from './manifest.js';
import { IDENTIFIER_PATTERN } from './names.js';

/**
 * The core's own tools. They are called like any plugin tool, as `carapace.<tool>` frames on a
 * caller socket, and pass the same pipeline (schema, authorization, rate limits, audit); the core
 * serves them in-process. No plugin may take the name.
 */
export const CONTROL_PLUGIN = 'carapace';

export const CONTROL_TOPICS = {
  /** The tools of every running plugin, and the skills that teach them. */
  catalog: 'carapace.catalog',
  /** One skill's markdown text. */
  skill: 'carapace.skill',
  /** This connection confirms the high-risk calls it makes itself (an MCP client that can elicit). */
  confirmOwnCalls: 'carapace.confirm_own_calls',
  /** This connection confirms every high-risk call (`carapace confirm` in a terminal); operator only. */
  confirmAllCalls: 'carapace.confirm_all_calls',
  /** The answer to a confirmation prompt the core pushed to this connection. */
  decide: 'carapace.decide',
} as const;

export interface CatalogTool {
  readonly plugin: string;
  readonly tool: string;
  /** `plugin.tool`: what a call names. */
  readonly topic: string;
  readonly description: string;
  readonly risk: ToolRisk;
  /** The manifest's JSON Schema for the arguments. */
  readonly arguments: JsonObject;
}

export interface CatalogSkill {
  readonly plugin: string;
  /** As the manifest lists it, e.g. `skills/notes.md`. */
  readonly path: string;
  /** The first markdown heading, or the path. */
  readonly title: string;
}

/** What `carapace.catalog` answers: only plugins that passed the start gate and are running. */
export interface ToolCatalog {
  readonly tools: readonly CatalogTool[];
  readonly skills: readonly CatalogSkill[];
}

const identifier = z.string().regex(IDENTIFIER_PATTERN);
const jsonObject = z.custom<JsonObject>(isJsonObject, 'must be a JSON object');

const ToolCatalogSchema = z.strictObject({
  tools: z.array(
    z.strictObject({
      plugin: identifier,
      tool: identifier,
      topic: z.string(),
      description: z.string(),
      risk: z.enum(TOOL_RISKS),
      arguments: jsonObject,
    }),
  ),
  skills: z.array(z.strictObject({ plugin: identifier, path: z.string(), title: z.string() })),
});

/** Narrows a `carapace.catalog` result; the core is trusted, but a bug must not look like a catalog. */
export function parseToolCatalog(result: JsonValue): ToolCatalog {
  return narrow(ToolCatalogSchema, result, 'catalog');
}

/** What a person is asked, pushed by the core to the connection that confirms the call. */
export interface ConfirmationPrompt {
  /** The call's id: the `call` of the `carapace.decide` that answers it. */
  readonly call: string;
  readonly topic: string;
  readonly description: string;
  readonly source: string;
  readonly group: string;
  /** Sanitized. */
  readonly arguments: JsonValue;
  /** After this, the core denies the call on its own. */
  readonly timeoutMs: number;
}

const jsonValue = z.custom<JsonValue>((value) => value !== undefined, 'is required');
const ConfirmationPromptSchema = z.strictObject({
  call: z.string().min(1).max(128),
  topic: z.string(),
  description: z.string(),
  source: z.string(),
  group: z.string(),
  arguments: jsonValue,
  timeoutMs: z.number().int().positive(),
});

/** A confirmation prompt as one frame: `{ "confirm": prompt }`, never confusable with a reply. */
export function encodeConfirmationPrompt(prompt: ConfirmationPrompt): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ confirm: prompt }));
}

/** Every frame the core sends a caller: a reply to one of its calls, or a prompt to confirm one. */
export type CoreFrame = { readonly kind: 'reply'; readonly reply: WireReply } | { readonly kind: 'confirm'; readonly prompt: ConfirmationPrompt };

/** Narrows a frame from the core with the same checks and codes as every other frame. */
export function parseCoreFrame(frame: Uint8Array, limits: WireLimits): CoreFrame {
  const value = decodeJsonFrame(frame, limits);
  if (!Object.hasOwn(value, 'confirm')) return { kind: 'reply', reply: narrowWireReply(value) };
  const checked = z.strictObject({ confirm: ConfirmationPromptSchema }).safeParse(value);
  if (!checked.success) throw new CarapaceError('WIRE_INVALID_MESSAGE', `invalid confirmation prompt: ${z.prettifyError(checked.error)}`);
  return { kind: 'confirm', prompt: checked.data.confirm };
}

function narrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const checked = schema.safeParse(value);
  if (!checked.success) throw new CarapaceError('WIRE_INVALID_MESSAGE', `invalid ${what} from the core: ${z.prettifyError(checked.error)}`);
  return checked.data;
}

/** Narrows a `carapace.skill` result. */
export function parseSkillText(result: JsonValue): string {
  return narrow(z.strictObject({ text: z.string() }), result, 'skill').text;
}
