import type { JsonValue } from '../wire/json.js';
import { AWS_KEY_ID, AWS_SECRET_NEAR_KEY_ID, SECRET_ANCHOR, SECRET_PATTERNS } from './secret-patterns.js';

/**
 * Redacts secrets from everything that leaves the core: replies to callers, log lines, audit
 * records. A plugin that echoes its credential, or a tool result that contains someone's token,
 * must not carry it any further than the plugin's own container.
 */
export interface Sanitizer {
  /** Returns `value` with every secret replaced by `[REDACTED:<kind>]`. */
  text(value: string): string;
  /** Returns a copy of `value` with every string in it, object keys included, passed through `text`. */
  json(value: JsonValue): JsonValue;
  /**
   * How many of the given credential values were shorter than `MIN_EXACT_SECRET_CHARS` and are
   * therefore not redacted by exact match. The daemon should warn about them.
   */
  readonly ignoredSecrets: number;
}

/**
 * Credential values shorter than this are not redacted by exact match. A short value occurs by
 * chance in ordinary output (a port, a PIN-like number, a word), so redacting it would shred replies,
 * and the redactions would be an oracle: a caller could send guesses through an echoing tool and see
 * which came back redacted. At 6 characters that guessing is out of reach under the rate limits.
 */
export const MIN_EXACT_SECRET_CHARS = 6;

/**
 * Builds a sanitizer for the known secret shapes (Anthropic, OpenAI, AWS, GitHub, Slack, JWT,
 * Bearer, PEM private keys) and the exact values of `exactSecrets`, the credentials the core holds.
 * Exact values are matched longest first, so a credential that contains another is redacted whole,
 * and also in their JSON-escaped form, so they are found inside a serialized log line.
 */
export function createSanitizer(exactSecrets: readonly string[]): Sanitizer {
  const usable = exactSecrets.filter((secret) => secret.length >= MIN_EXACT_SECRET_CHARS);
  const exact = toExactPattern(usable);
  // Without the global flag: `test` on a global RegExp moves its lastIndex and would skip matches.
  const exactProbe = exact === undefined ? undefined : new RegExp(exact.source);

  const text = (value: string, awsNearby = false): string => {
    // The fast path: nothing any pattern needs, no credential value, no AWS key id nearby.
    if (!awsNearby && !SECRET_ANCHOR.test(value) && exactProbe?.test(value) !== true) return value;
    const awsContext = awsNearby || AWS_KEY_ID.test(value);
    let out = exact === undefined ? value : value.replace(exact, '[REDACTED:credential]');
    for (const { kind, pattern, keepPrefix } of SECRET_PATTERNS) {
      const redacted = `[REDACTED:${kind}]`;
      out = keepPrefix === true ? out.replace(pattern, (_match, prefix: string) => `${prefix}${redacted}`) : out.replace(pattern, redacted);
    }
    return awsContext ? out.replace(AWS_SECRET_NEAR_KEY_ID, '[REDACTED:aws-secret-key]') : out;
  };

  // In a JSON value, "next to an AWS key id" means in a sibling string of the same object or array,
  // the shape of `{ "AccessKeyId": "AKIA...", "SecretAccessKey": "..." }`.
  const json = (value: JsonValue): JsonValue => {
    if (typeof value === 'string') return text(value);
    if (typeof value !== 'object' || value === null) return value;
    const children: readonly JsonValue[] = Array.isArray(value) ? value : Object.values(value);
    const awsNearby = children.some((child) => typeof child === 'string' && AWS_KEY_ID.test(child));
    const clean = (child: JsonValue): JsonValue => (typeof child === 'string' ? text(child, awsNearby) : json(child));
    if (Array.isArray(value)) return value.map(clean);
    // fromEntries defines own properties, so even a `__proto__` key cannot reach a prototype.
    return Object.fromEntries(Object.entries(value).map(([key, child]) => [text(key), clean(child)]));
  };

  return { text: (value) => text(value), json, ignoredSecrets: exactSecrets.length - usable.length };
}

function toExactPattern(secrets: readonly string[]): RegExp | undefined {
  const forms = new Set<string>();
  for (const secret of secrets) {
    forms.add(secret);
    forms.add(JSON.stringify(secret).slice(1, -1));
  }
  if (forms.size === 0) return undefined;
  const longestFirst = [...forms].sort((a, b) => b.length - a.length);
  return new RegExp(longestFirst.map(escapeRegExp).join('|'), 'g');
}

function escapeRegExp(value: string): string {
  return value.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}
