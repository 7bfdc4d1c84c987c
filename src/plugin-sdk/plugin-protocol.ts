import { z } from 'zod';
import { CarapaceError } from '../errors.js';
import { isJsonObject, type JsonObject } from '../wire/json.js';
import { decodeJsonFrame, encodeWireReply, salvageCorrelation, type WireLimits, type WireReplyError } from '../wire/message.js';
import { CORRELATION_PATTERN, IDENTIFIER_PATTERN } from '../wire/names.js';

/**
 * The messages between the core and one plugin container, over the container's DEALER socket
 * (docs/plugin-sdk.md). Every message is exactly one ZeroMQ frame of UTF-8 JSON.
 *
 * core -> plugin: `{ correlation, tool, arguments }` (a call) or `{ type: "shutdown" }`.
 * plugin -> core: `{ type: "ready" }` once, then one `WireReply` per call, built with
 * `encodeWireReply` so it passes the core's `parseWireReply`.
 */

/** A call the core routes to this plugin: the tool's bare name, not the `plugin.tool` topic. */
export interface PluginCall {
  readonly kind: 'call';
  readonly correlation: string;
  readonly tool: string;
  readonly arguments: JsonObject;
}

export interface PluginShutdown {
  readonly kind: 'shutdown';
}

export type CoreMessage = PluginCall | PluginShutdown;

export const READY_MESSAGE = { type: 'ready' } as const;

const jsonObject = z.custom<JsonObject>(isJsonObject, 'must be a JSON object');

const CallSchema = z.strictObject({
  correlation: z.string().regex(CORRELATION_PATTERN, 'must be 1 to 128 of A-Z a-z 0-9 _ -'),
  tool: z.string().regex(IDENTIFIER_PATTERN, 'must be a lowercase tool name'),
  arguments: jsonObject,
});
const ShutdownSchema = z.strictObject({ type: z.literal('shutdown') });

const encoder = new TextEncoder();

/**
 * Narrows one frame from the core. The core is trusted, but the socket is a boundary like any
 * other: a bug or a confused peer must produce a typed refusal, not a handler called with junk.
 * Codes as `parseWireMessage`: WIRE_FRAME_TOO_LARGE, WIRE_INVALID_UTF8, WIRE_MALFORMED_JSON,
 * WIRE_FORBIDDEN_KEY, WIRE_TOO_DEEP, WIRE_NOT_OBJECT, then WIRE_INVALID_MESSAGE for a frame that
 * is neither a call nor a shutdown; `details.correlation` holds a well-formed correlation if any.
 */
export function parseCoreMessage(frame: Uint8Array, limits: WireLimits): CoreMessage {
  const value = decodeJsonFrame(frame, limits);
  if (Object.hasOwn(value, 'type')) {
    const shutdown = ShutdownSchema.safeParse(value);
    if (shutdown.success) return { kind: 'shutdown' };
    throw invalid(z.prettifyError(shutdown.error), null);
  }
  const call = CallSchema.safeParse(value);
  if (call.success) return { kind: 'call', ...call.data };
  throw invalid(z.prettifyError(call.error), salvageCorrelation(value));
}

/** The ready announcement, sent once after connecting. */
export function encodeReady(): Uint8Array {
  return encoder.encode(JSON.stringify(READY_MESSAGE));
}

/**
 * A success reply around what a handler returned. The value is serialised once, with JSON's own
 * rules (`undefined` becomes `null`, class instances become their enumerable fields); what JSON
 * cannot carry (BigInt, cycles, a bare function) throws a TypeError. The frame is built around that
 * text instead of being checked against the reply schema: the result is JSON by construction and
 * the correlation is checked here, so it is a frame the core's `parseWireReply` accepts.
 */
export function encodeResult(correlation: string | null, value: unknown): Uint8Array {
  if (correlation !== null && !CORRELATION_PATTERN.test(correlation)) throw new TypeError('not a well-formed correlation');
  const result = JSON.stringify(value ?? null) as string | undefined;
  if (result === undefined) throw new TypeError('the result has no JSON form');
  return encoder.encode(`{"correlation":${JSON.stringify(correlation)},"ok":true,"result":${result}}`);
}

export function encodeError(correlation: string | null, error: WireReplyError): Uint8Array {
  return encodeWireReply({ correlation, ok: false, error });
}

function invalid(problems: string, correlation: string | null): CarapaceError {
  return new CarapaceError('WIRE_INVALID_MESSAGE', `not a call or a shutdown: ${problems}`, { details: { correlation } });
}
