/**
 * Shapes of well-known secrets, for the sanitizer. Each pattern is anchored on a prefix the issuer
 * puts there on purpose (`sk-ant-`, `ghp_`, `AKIA`...) and requires a run long enough that ordinary
 * words do not match; a lookbehind keeps `task-list` or `desk-...` from matching as `sk-...`.
 * The patterns run in this order, so the more specific shape names the kind (`sk-ant-` before `sk-`,
 * a JWT before the `Bearer` that carries it).
 */

export interface SecretPattern {
  /** Appears in the replacement: `[REDACTED:<kind>]`. */
  readonly kind: string;
  readonly pattern: RegExp;
  /** When set, only this capture group is replaced and the rest of the match is kept (a label). */
  readonly keepPrefix?: true;
}

// What may follow `-----BEGIN ... PRIVATE KEY-----`: base64, whitespace, JSON-escaped newlines and
// RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`). A block with no END line (a key cut off by a length
// cap) is redacted up to the first character outside this set, which keeps a JSON log line's
// closing quote, and so the line, intact.
const PEM_BODY = String.raw`[A-Za-z0-9+/=\s\\:,.-]*?`;
const PEM_END = String.raw`(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|(?=[^A-Za-z0-9+/=\s\\:,.-])|$)`;

export const SECRET_PATTERNS: readonly SecretPattern[] = [
  { kind: 'private-key', pattern: new RegExp(String.raw`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----${PEM_BODY}${PEM_END}`, 'g') },
  { kind: 'anthropic', pattern: /(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{16,}/g },
  // Legacy `sk-` + 48, and `sk-proj-`/`sk-svcacct-`/`sk-admin-` keys. A digit somewhere is required:
  // real keys are random, while `sk-is-the-prefix-of-openai-keys` is prose.
  { kind: 'openai', pattern: /(?<![A-Za-z0-9_-])sk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}/g },
  // A secret access key is 40 characters of base64 with no prefix of its own; it is recognised
  // after a label here, and next to an access key id by the sanitizer (`AWS_SECRET_NEAR_KEY_ID`).
  {
    kind: 'aws-secret-key',
    pattern: /((?:aws_?)?secret_?access_?key["']?\s*[:=]\s*["']?)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/gi,
    keepPrefix: true,
  },
  { kind: 'aws-access-key', pattern: /(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])/g },
  { kind: 'github', pattern: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})/g },
  { kind: 'slack', pattern: /(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}/g },
  { kind: 'jwt', pattern: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g },
  // `Bearer <token>`; the token must hold a digit, so "bearer instrument" in prose is left alone.
  { kind: 'bearer', pattern: /(\bbearer\s+)(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,}/gi, keepPrefix: true },
];

/**
 * A literal that every match of every pattern above, and of AWS_KEY_ID, contains: text without any
 * of these cannot hold a secret of a known shape, so the sanitizer returns it without running the
 * patterns (most replies and audit labels). Case-insensitive, so it is a superset of what the
 * patterns need. A pattern added above must add its anchor here; sanitizer.test.ts has a sample of
 * every kind and fails for one the anchor misses.
 */
export const SECRET_ANCHOR = /PRIVATE KEY|sk-|secret|AKIA|ASIA|gh[pousr]_|github_pat_|xox[abposr]-|eyJ|bearer/i;

/** An AWS access key id anywhere in a text, which makes a nearby 40-character value suspect. */
export const AWS_KEY_ID = /(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])/;

/**
 * A standalone 40-character base64 run with lowercase, uppercase and a digit, `/` or `+`: the shape
 * of an AWS secret access key. A git SHA (hex, one case) does not match.
 */
export const AWS_SECRET_NEAR_KEY_ID = /(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]*[a-z])(?=[A-Za-z0-9/+]*[A-Z])(?=[A-Za-z0-9/+]*[0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g;
