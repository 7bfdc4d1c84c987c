import { z } from 'zod';
import { CarapaceError, type ErrorCode } from '../errors.js';
import { DEFAULT_MAX_DEPTH, isJsonObject, parseJsonText, type JsonObject, type JsonValue } from './json.js';
import { CORRELATION_PATTERN, TOPIC_PATTERN } from './names.js';

/**
 * What a container may say to the core, and what the core says back. A frame carries exactly
 * `{ topic, correlation, arguments }`: who sent it is a fact the core knows from the socket the
 * frame arrived on, so the format has no field in which a container could claim an identity.
 */

/** A tool call as a container sends it, after every check in `parseWireMessage`. */
export interface WireMessage {
  /** `plugin.tool`. */
  readonly topic: string;
  /** The caller's token, echoed in the reply so it can match replies to calls. */
  readonly correlation: string;
  readonly arguments: JsonObject;
}

export interface WireLimits {
  /** Frames longer than this many bytes are refused before they are decoded. */
  readonly maxFrameBytes: number;
  /** How deeply objects and arrays may nest; `DEFAULT_MAX_DEPTH` when absent. */
  readonly maxDepth?: number;
}

export const DEFAULT_WIRE_LIMITS = { maxFrameBytes: 1024 * 1024, maxDepth: DEFAULT_MAX_DEPTH } as const;

const TOPIC_MAX_CHARS = 129;

const jsonObject = z.custom<JsonObject>(isJsonObject, 'must be a JSON object');
const correlation = z.string().regex(CORRELATION_PATTERN, 'must be 1 to 128 of A-Z a-z 0-9 _ -');

const WireMessageSchema = z.strictObject({
  topic: z.string().max(TOPIC_MAX_CHARS).regex(TOPIC_PATTERN, 'must be plugin.tool in lowercase'),
  correlation,
  arguments: jsonObject,
});

/**
 * Narrows one frame from a container to a `WireMessage`. The checks run in this order, and the
 * first that fails decides the code: `WIRE_FRAME_TOO_LARGE` (before any decoding, so a huge frame
 * costs nothing), `WIRE_INVALID_UTF8` (fatal decoding: overlong and surrogate encodings are refused,
 * never replaced), `WIRE_MALFORMED_JSON`, `WIRE_FORBIDDEN_KEY`, `WIRE_TOO_DEEP`, `WIRE_NOT_OBJECT`,
 * `WIRE_UNKNOWN_FIELD` (a forged `source`, `group`, `session`...: every one is named),
 * `WIRE_INVALID_TOPIC`, `WIRE_INVALID_CORRELATION`, and `WIRE_INVALID_MESSAGE` for anything else
 * (a missing field, `arguments` that is not an object). When the frame was an object with a
 * well-formed correlation, the error's `details.correlation` holds it so the reply can carry it.
 */
export function parseWireMessage(frame: Uint8Array, limits: WireLimits): WireMessage {
  const value = decodeJsonFrame(frame, limits);
  const result = WireMessageSchema.safeParse(value);
  if (result.success) return result.data;
  throw toWireError(result.error.issues, salvageCorrelation(value));
}

export interface WireReplyError {
  /** A Carapace error code, or the code a plugin reported. */
  readonly code: string;
  readonly message: string;
}

/** The core's answer to one call; `correlation` is `null` when the frame never yielded one. */
export type WireReply =
  | { readonly correlation: string | null; readonly ok: true; readonly result: JsonValue }
  | { readonly correlation: string | null; readonly ok: false; readonly error: WireReplyError };

const jsonValue = z.custom<JsonValue>((value) => value !== undefined, 'is required');
const replyError = z.strictObject({
  code: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'must be an UPPER_SNAKE code'),
  message: z.string().max(4096),
});

const WireReplySchema = z.discriminatedUnion('ok', [
  z.strictObject({ correlation: correlation.nullable(), ok: z.literal(true), result: jsonValue }),
  z.strictObject({ correlation: correlation.nullable(), ok: z.literal(false), error: replyError }),
]);

/**
 * Encodes a reply as a UTF-8 JSON frame. The reply is checked against the same schema
 * `parseWireReply` applies, so the core never emits a frame its own parser would refuse;
 * a reply that fails (a bug) is `INTERNAL`.
 */
export function encodeWireReply(reply: WireReply): Uint8Array {
  const checked = WireReplySchema.safeParse(reply);
  if (!checked.success) {
    throw new CarapaceError('INTERNAL', `the core built an invalid reply: ${z.prettifyError(checked.error)}`);
  }
  return new TextEncoder().encode(JSON.stringify(reply));
}

/**
 * Narrows a reply frame from a plugin container (its answer to a dispatched call) with the same
 * checks and codes as `parseWireMessage`. A plugin is as untrusted as any other container.
 */
export function parseWireReply(frame: Uint8Array, limits: WireLimits): WireReply {
  return narrowWireReply(decodeJsonFrame(frame, limits));
}

/** `parseWireReply` for a frame already decoded by `decodeJsonFrame`. */
export function narrowWireReply(value: JsonObject): WireReply {
  const result = WireReplySchema.safeParse(value);
  if (result.success) return result.data;
  throw toWireError(result.error.issues, salvageCorrelation(value));
}

// `ignoreBOM` keeps a leading byte-order mark in the text, where JSON.parse refuses it, instead of
// silently dropping bytes the sender put there.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes one frame as a JSON object with the size, UTF-8, key and depth checks every frame gets. */
export function decodeJsonFrame(frame: Uint8Array, limits: WireLimits): JsonObject {
  if (frame.byteLength > limits.maxFrameBytes) {
    throw new CarapaceError('WIRE_FRAME_TOO_LARGE', `frame of ${String(frame.byteLength)} bytes exceeds ${String(limits.maxFrameBytes)}`, {
      details: { bytes: frame.byteLength, maxFrameBytes: limits.maxFrameBytes },
    });
  }
  let text: string;
  try {
    text = utf8.decode(frame);
  } catch (error) {
    throw new CarapaceError('WIRE_INVALID_UTF8', 'frame is not valid UTF-8', { cause: error });
  }
  const value = parseJsonText(text, { maxDepth: limits.maxDepth ?? DEFAULT_MAX_DEPTH });
  if (!isJsonObject(value)) {
    throw new CarapaceError('WIRE_NOT_OBJECT', `frame is a JSON ${Array.isArray(value) ? 'array' : typeof value}, not an object`);
  }
  return value;
}

/** The frame's correlation when it is well formed, so even a refusal can be matched by the caller. */
export function salvageCorrelation(value: JsonObject): string | null {
  const candidate = Object.hasOwn(value, 'correlation') ? value['correlation'] : undefined;
  return typeof candidate === 'string' && CORRELATION_PATTERN.test(candidate) ? candidate : null;
}

/** At most this many unknown fields are named, each cut short, so a hostile frame cannot inflate the error. */
const MAX_NAMED_FIELDS = 20;
const MAX_FIELD_CHARS = 64;

function toWireError(issues: readonly z.core.$ZodIssue[], correlation: string | null): CarapaceError {
  const unknown = issues.flatMap((issue) => (issue.code === 'unrecognized_keys' ? issue.keys : [])).map(quoteField);
  const problems = issues
    .filter((issue) => issue.code !== 'unrecognized_keys')
    .map((issue) => ({ field: issue.path.map(String).join('.') || '(message)', message: issue.message }));
  const described = [
    ...(unknown.length > 0 ? [`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, MAX_NAMED_FIELDS).join(', ')}`] : []),
    ...problems.map((problem) => `${problem.field}: ${problem.message}`),
  ];
  return new CarapaceError(codeFor(unknown.length > 0, problems), described.join('; '), {
    details: {
      correlation,
      unknownFields: unknown.slice(0, MAX_NAMED_FIELDS),
      invalidFields: problems.map((problem) => problem.field),
    },
  });
}

function codeFor(hasUnknown: boolean, problems: readonly { field: string }[]): ErrorCode {
  if (hasUnknown) return 'WIRE_UNKNOWN_FIELD';
  const fields = new Set(problems.map((problem) => problem.field.split('.')[0]));
  if (fields.has('topic')) return 'WIRE_INVALID_TOPIC';
  if (fields.has('correlation')) return 'WIRE_INVALID_CORRELATION';
  return 'WIRE_INVALID_MESSAGE';
}

function quoteField(name: string): string {
  return JSON.stringify(name.length > MAX_FIELD_CHARS ? `${name.slice(0, MAX_FIELD_CHARS)}…` : name);
}
