import { z } from 'zod';
import { CarapaceError } from '../errors.js';
import { FORBIDDEN_KEYS, isJsonObject } from './json.js';

/**
 * The one message the core writes to a plugin container's stdin when it starts it: the plugin's
 * credentials, as a single JSON line. The core builds it with `encodeCredentialMessage`
 * (src/credentials/stdin-delivery.ts) and the plugin SDK reads it back with
 * `parseCredentialMessage`; both go through the schema here, so neither side can produce what the
 * other refuses.
 */

export const CREDENTIAL_MESSAGE_TYPE = 'carapace.credentials';
export const CREDENTIAL_MESSAGE_VERSION = 1;

/**
 * Credential names look like environment variables (though they never become one): upper case
 * only, so two names cannot collide on a case-insensitive filesystem, and never `.`, `/` or NUL,
 * so a name is always a single, harmless path component. The same pattern as manifest.ts.
 */
export const CREDENTIAL_NAME_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

/** The largest credential value, in UTF-8 bytes. Keys, tokens and PEM files fit; blobs do not. */
export const MAX_CREDENTIAL_VALUE_BYTES = 64 * 1024;
export const MAX_CREDENTIALS_PER_PLUGIN = 64;
/** The whole line, newline included. A reader stops here rather than buffer an endless stdin. */
export const MAX_CREDENTIAL_MESSAGE_BYTES = 1024 * 1024;

/** Why a value cannot be a credential, or undefined when it can. */
export function credentialValueProblem(value: string): string | undefined {
  if (value.length === 0) return 'is empty';
  if (value.includes('\0')) return 'contains a NUL byte';
  // A lone surrogate has no UTF-8 encoding: the bytes stored would differ from the value given.
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value)) return 'is not valid Unicode text';
  if (Buffer.byteLength(value, 'utf8') > MAX_CREDENTIAL_VALUE_BYTES) return `is larger than ${MAX_CREDENTIAL_VALUE_BYTES} bytes`;
  return undefined;
}

const CredentialValue = z.string().superRefine((value, ctx) => {
  const problem = credentialValueProblem(value);
  // The message names the problem, never the value: these errors end up in logs.
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `value ${problem}` });
});

// zod's record drops a `__proto__` key silently instead of reporting it; a strict message refuses it.
const plainObjectWithoutForbiddenKeys = z.custom<Record<string, unknown>>(
  (value) => isJsonObject(value) && !Object.keys(value).some((key) => FORBIDDEN_KEYS.has(key)),
  'must be an object of credential names, without __proto__, constructor or prototype keys',
);

const CredentialNames = z
  .record(z.string().regex(CREDENTIAL_NAME_PATTERN, 'must be an UPPER_SNAKE name such as API_TOKEN'), CredentialValue)
  .refine((credentials) => Object.keys(credentials).length <= MAX_CREDENTIALS_PER_PLUGIN, {
    message: `at most ${MAX_CREDENTIALS_PER_PLUGIN} credentials`,
  });

const CredentialMessageSchema = z.strictObject({
  type: z.literal(CREDENTIAL_MESSAGE_TYPE),
  version: z.literal(CREDENTIAL_MESSAGE_VERSION),
  credentials: plainObjectWithoutForbiddenKeys.pipe(CredentialNames),
});

/** Credential name to value, exactly the names the plugin's manifest asked for. */
export type CredentialMap = Readonly<Record<string, string>>;

/**
 * Checks a credential map against the message schema and returns the message's JSON text,
 * without the newline. Throws CREDENTIAL_MESSAGE_INVALID naming every bad field (never a value).
 */
export function toCredentialMessageText(credentials: CredentialMap): string {
  const message = { type: CREDENTIAL_MESSAGE_TYPE, version: CREDENTIAL_MESSAGE_VERSION, credentials };
  const result = CredentialMessageSchema.safeParse(message);
  if (!result.success) throw invalid(result.error.issues);
  return JSON.stringify(result.data);
}

/**
 * Narrows the bytes a plugin read from stdin to its credentials. Accepts exactly one JSON line
 * (the trailing newline optional) of strict UTF-8; refuses anything else with
 * CREDENTIAL_MESSAGE_INVALID. The result has no prototype and is frozen.
 */
export function parseCredentialMessage(bytes: Uint8Array): CredentialMap {
  if (bytes.byteLength > MAX_CREDENTIAL_MESSAGE_BYTES) {
    throw new CarapaceError('CREDENTIAL_MESSAGE_INVALID', `the credential message is larger than ${MAX_CREDENTIAL_MESSAGE_BYTES} bytes`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (error) {
    throw new CarapaceError('CREDENTIAL_MESSAGE_INVALID', 'the credential message is not valid UTF-8', { cause: error });
  }
  const line = text.endsWith('\n') ? text.slice(0, -1) : text;
  // JSON text never needs a raw newline, so one inside the line means a second message or trailing junk.
  if (line.includes('\n')) throw new CarapaceError('CREDENTIAL_MESSAGE_INVALID', 'the credential message must be a single line');
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    // The parser's message quotes the text around the error, and that text holds secrets.
    throw new CarapaceError('CREDENTIAL_MESSAGE_INVALID', 'the credential message is not valid JSON');
  }
  const result = CredentialMessageSchema.safeParse(value);
  if (!result.success) throw invalid(result.error.issues);
  // The null prototype is for the reader's sake: `credentials.toString` is undefined, not a function.
  return Object.freeze(Object.assign(Object.create(null) as Record<string, string>, result.data.credentials));
}

function invalid(issues: readonly z.core.$ZodIssue[]): CarapaceError {
  const problems = issues.map((issue) => {
    const at = issue.path.map(String).join('.');
    return `${at === '' ? '(message)' : at}: ${issue.message}`;
  });
  return new CarapaceError('CREDENTIAL_MESSAGE_INVALID', `invalid credential message: ${problems.join('; ')}`, {
    details: { problems },
  });
}
