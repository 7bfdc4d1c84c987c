import { CarapaceError } from '../errors.js';

/**
 * What an audit record says, before and after the log stores it. Everything here is plain data;
 * the hash chain is in audit-chain.ts and the SQLite adapter in audit-log.ts.
 */

export const AUDIT_KINDS = ['intent', 'outcome', 'refusal', 'lifecycle'] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

/**
 * The decisions each kind of record may carry. An intent is written before a call is dispatched,
 * an outcome after it returns, a refusal when the pipeline stops a call; lifecycle records
 * (core started, plugin ready) name their event in `topic` and carry no decision.
 */
export const AUDIT_DECISIONS_BY_KIND = {
  intent: ['allowed', 'confirmed'],
  outcome: ['succeeded', 'plugin_error', 'timeout', 'dispatch_failed'],
  refusal: ['refused', 'denied'],
  lifecycle: [],
} as const satisfies Record<AuditKind, readonly string[]>;

export type AuditDecision = (typeof AUDIT_DECISIONS_BY_KIND)[AuditKind][number];

/** A record as the caller hands it to the log. Absent and `undefined` fields are stored as NULL. */
export interface AuditRecordInput {
  readonly kind: AuditKind;
  readonly decision?: AuditDecision | undefined;
  /** Links an intent to its outcome; required for both. */
  readonly callId?: string | undefined;
  readonly topic?: string | undefined;
  /** The plugin that declared the tool (or that a lifecycle event is about). */
  readonly source?: string | undefined;
  readonly caller?: string | undefined;
  readonly group?: string | undefined;
  /** The pipeline stage that decided (construct, topic, arguments, authorize, confirm, route). */
  readonly stage?: string | undefined;
  /** An ErrorCode for refusals and failures. */
  readonly code?: string | undefined;
  /** Any JSON-serialisable value; the caller sanitizes it, the log sanitizes it again. */
  readonly arguments?: unknown;
  readonly detail?: string | undefined;
}

/** The stored form of a record: the fields the hash covers, NULL as `null`. */
export interface AuditFields {
  readonly seq: number;
  readonly timestamp: string;
  readonly kind: AuditKind;
  readonly callId: string | null;
  readonly topic: string | null;
  readonly source: string | null;
  readonly caller: string | null;
  readonly group: string | null;
  readonly stage: string | null;
  readonly code: string | null;
  readonly decision: string | null;
  /** JSON text, exactly as stored and hashed (not re-serialised, so key order never matters). */
  readonly arguments: string | null;
  readonly detail: string | null;
  readonly prevHash: string;
}

/** A record the log has stored: its fields plus the hash that chains it to the previous one. */
export interface AuditEntry extends AuditFields {
  readonly hash: string;
}

/** Redacts secrets from one string; the core's sanitizer fits this shape. */
export type AuditSanitizer = (text: string) => string;

/** Caps in UTF-8 bytes. A container controls the topic and the arguments, so nothing is unbounded. */
export const AUDIT_CAPS = { label: 512, detail: 2048, arguments: 16 * 1024 } as const;

const TRUNCATED_MARK = '…[truncated]';
const MAX_ARGUMENT_DEPTH = 64;

/** The fields of a record after capping and sanitizing, ready for a seq, a timestamp and a hash. */
export type NormalizedRecord = Omit<AuditFields, 'seq' | 'timestamp' | 'prevHash'>;

/**
 * Checks the kind and decision, then caps and sanitizes every text field. Throws
 * AUDIT_WRITE_FAILED when the record is malformed or the sanitizer fails: an intent that cannot be
 * written safely must stop the call it describes, not be stored unsanitized.
 */
export function normalizeAuditRecord(input: AuditRecordInput, sanitize: AuditSanitizer): NormalizedRecord {
  if (!(AUDIT_KINDS as readonly string[]).includes(input.kind)) {
    throw new CarapaceError('AUDIT_WRITE_FAILED', `unknown audit record kind ${JSON.stringify(input.kind)}`);
  }
  const allowed: readonly string[] = AUDIT_DECISIONS_BY_KIND[input.kind];
  if (input.decision === undefined ? allowed.length > 0 : !allowed.includes(input.decision)) {
    throw new CarapaceError('AUDIT_WRITE_FAILED', `a ${input.kind} record needs a decision out of [${allowed.join(', ')}]`, {
      details: { kind: input.kind, decision: input.decision ?? null },
    });
  }
  if ((input.kind === 'intent' || input.kind === 'outcome') && !input.callId) {
    throw new CarapaceError('AUDIT_WRITE_FAILED', `a ${input.kind} record needs a callId to link intent and outcome`);
  }
  const clean = cleanWith(sanitize);
  try {
    const label = (value: string | undefined): string | null =>
      value === undefined ? null : capUtf8(clean(value), AUDIT_CAPS.label);
    return {
      kind: input.kind,
      callId: label(input.callId),
      topic: label(input.topic),
      source: label(input.source),
      caller: label(input.caller),
      group: label(input.group),
      stage: label(input.stage),
      code: label(input.code),
      decision: input.decision ?? null,
      arguments: input.arguments === undefined ? null : argumentsText(input.arguments, clean),
      detail: input.detail === undefined ? null : capUtf8(clean(input.detail), AUDIT_CAPS.detail),
    };
  } catch (error) {
    throw new CarapaceError('AUDIT_WRITE_FAILED', 'could not sanitize an audit record', { cause: error });
  }
}

/** The sanitizer made total: well-formed text in and out, and a string or an error, never anything else. */
function cleanWith(sanitize: AuditSanitizer): AuditSanitizer {
  return (text) => {
    const result: unknown = sanitize(toWellFormed(text));
    if (typeof result !== 'string') throw new TypeError('the sanitizer did not return a string');
    return toWellFormed(result);
  };
}

/**
 * Sanitizes every string in the value, keys included, before serialising. Sanitizing the JSON
 * text instead would miss a secret that JSON escaping changed (a value holding `"` or `\`).
 * A value that cannot be serialised is recorded as a marker, so a refusal is never lost over it.
 */
function argumentsText(value: unknown, clean: AuditSanitizer): string {
  let text: string;
  try {
    text = JSON.stringify(sanitizeValue(value, clean, 0)) ?? 'null';
  } catch (error) {
    if (error instanceof UnserialisableArguments) return JSON.stringify({ 'carapace.unserialisable': true });
    throw error;
  }
  if (text.length * 3 <= AUDIT_CAPS.arguments || Buffer.byteLength(text) <= AUDIT_CAPS.arguments) return text;
  return JSON.stringify({
    'carapace.truncated': true,
    originalBytes: Buffer.byteLength(text),
    prefix: capUtf8(text, 1024),
  });
}

class UnserialisableArguments extends Error {}

function sanitizeValue(value: unknown, clean: AuditSanitizer, depth: number): unknown {
  if (depth > MAX_ARGUMENT_DEPTH) throw new UnserialisableArguments();
  if (typeof value === 'string') return clean(value);
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (Array.isArray(value)) return value.map((item) => sanitizeValue(item, clean, depth + 1));
  if (typeof value === 'object' && !ArrayBuffer.isView(value)) {
    // fromEntries defines own properties, so a `__proto__` key stays data and never sets a prototype.
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [clean(key), sanitizeValue(item, clean, depth + 1)]),
    );
  }
  throw new UnserialisableArguments();
}

/**
 * Replaces lone UTF-16 surrogates with U+FFFD. SQLite stores UTF-8, so a lone surrogate would be
 * rewritten on the way in and the stored text would no longer match the hash computed over it.
 */
export function toWellFormed(text: string): string {
  return text.toWellFormed();
}

/** Cuts text to at most `maxBytes` of UTF-8, on a character boundary, and marks the cut. */
export function capUtf8(text: string, maxBytes: number): string {
  // No UTF-16 unit takes more than 3 bytes of UTF-8: most text is known to fit without encoding it.
  if (text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes - Buffer.byteLength(TRUNCATED_MARK);
  // Back up over UTF-8 continuation bytes (10xxxxxx) so no character is split in half.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, Math.max(end, 0)).toString('utf8') + TRUNCATED_MARK;
}
