/**
 * Replaces the value of every credential-like field, at any depth, before a log object is serialized.
 * A caller that logs a request, a plugin's arguments or a library error can pass credentials along
 * without noticing (an HTTP error carrying its `Authorization` header is the classic case), so the
 * logger scrubs by key name instead of trusting callers to leave secrets out.
 */

export const REDACTED = '[redacted]';

/** Objects nested deeper than this are cut off rather than written unchecked. */
const MAX_DEPTH = 10;

/**
 * Key endings that name a credential, compared with case, `_` and `-` ignored, so `clientSecret`,
 * `refresh_token`, `X-Api-Key` and `Proxy-Authorization` all match. Matching a harmless key such as
 * `nextPageToken` only hides a value from the log; missing a real one leaks it.
 */
const CREDENTIAL_KEY_ENDINGS = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'apikey',
  'authorization',
  'credential',
  'credentials',
  'cookie',
  'privatekey',
] as const;

export function isCredentialKey(key: string): boolean {
  const normalized = key.toLowerCase().replace(/[-_]/g, '');
  return CREDENTIAL_KEY_ENDINGS.some((ending) => normalized.endsWith(ending));
}

/** A copy of `value` with credential-like fields replaced by `[redacted]`; `value` is not modified. */
export function redactCredentialFields(value: unknown): unknown {
  return redact(value, 0, new WeakSet());
}

function redact(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[truncated]';
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1, seen));
    if (value instanceof Error) return redactError(value, depth, seen);
    const withToJson = value as { toJSON?: () => unknown };
    if (typeof withToJson.toJSON === 'function') return redact(withToJson.toJSON(), depth, seen);
    const copy: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      copy[key] = isCredentialKey(key) ? REDACTED : redact(inner, depth + 1, seen);
    }
    return copy;
  } finally {
    // Only cycles are cut; the same object referenced twice side by side is written twice.
    seen.delete(value);
  }
}

/** An error as pino's own serializer would write it (type, message, stack), its fields scrubbed. */
function redactError(error: Error, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const copy: Record<string, unknown> = { type: error.name, message: error.message, stack: error.stack };
  for (const [key, inner] of Object.entries(error)) {
    copy[key] = isCredentialKey(key) ? REDACTED : redact(inner, depth + 1, seen);
  }
  if (error.cause !== undefined) copy['cause'] = redact(error.cause, depth + 1, seen);
  return copy;
}
