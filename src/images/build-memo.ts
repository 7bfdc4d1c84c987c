import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';

/**
 * What earlier builds learned, so a start need not learn it again: how an image recipe resolved
 * (which files, which addon, which libraries) and the digests an image's inputs composed to. Every
 * answer is tied to fingerprints of what it was derived from, so a changed input is a miss, and a
 * miss does the work exactly as without a memo. A memo is only a hint: its callers hold what it
 * answers to a digest they already trust (a pin), never the other way round.
 */
export interface BuildMemo {
  /** The value remembered under `key`, or undefined. Callers validate what they get back. */
  recall(key: string): string | undefined;
  remember(key: string, value: string): void;
}

/** Reports a file or directory an answer depends on (a directory: its list of entries). */
export type Observe = (path: string) => void;

/**
 * A file's identity and change marks as the kernel keeps them: device, inode, mode, size, mtime
 * and ctime in nanoseconds. Rewriting or replacing a file changes its ctime (or its inode), and
 * adding, removing or renaming an entry of a directory changes the directory's. No file system
 * call sets a ctime (only moving the system clock could), so setting mtime back hides nothing.
 * Undefined when the path cannot be looked at (absent, or not allowed).
 *
 * Synchronous on purpose: a warm start fingerprints a few hundred paths, which statSync does in 1-2
 * ms, where as many thread-pool round trips took 12-25 ms in a freshly started process.
 */
export function fileFingerprint(path: string): string | undefined {
  try {
    const stats = statSync(path, { bigint: true });
    return `${stats.dev}:${stats.ino}:${stats.mode}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
  } catch {
    return undefined;
  }
}

/**
 * The memo key for `kind` over `parts`: a hash of their JSON encoding, which keeps every part
 * apart from the next (bytes go in as base64). One update, not two per part: keys cover a few
 * thousand parts, and per-call overhead was most of the cost.
 */
export function memoKey(kind: string, parts: readonly (string | Uint8Array)[]): string {
  const encoded = parts.map((part) => (typeof part === 'string' ? part : { base64: Buffer.from(part).toString('base64') }));
  return createHash('sha256').update(JSON.stringify([kind, ...encoded])).digest('hex');
}

export interface Memoized<T> {
  readonly key: string;
  /** Computes the answer, reporting every path it depends on. */
  readonly derive: (observe: Observe) => Promise<T>;
  /** To and from the JSON kept in the memo; `decode` answers undefined for anything malformed. */
  readonly encode: (value: T) => unknown;
  readonly decode: (json: unknown) => T | undefined;
}

/**
 * `derive`'s answer, or, when `memo` remembers one under `key` and every path that answer observed
 * still has the fingerprint it had then (an absent path: still absent), the remembered answer.
 * A remembered answer that does not parse is a miss, and is overwritten.
 */
export async function recallOrDerive<T>(memo: BuildMemo | undefined, memoized: Memoized<T>): Promise<T> {
  if (memo === undefined) return memoized.derive(() => undefined);
  const remembered = parseRemembered(memo.recall(memoized.key));
  if (remembered !== undefined) {
    const value = memoized.decode(remembered.value);
    if (value !== undefined && remembered.observed.every(([path, print]) => (fileFingerprint(path) ?? ABSENT) === print)) return value;
  }
  // Each path is fingerprinted the moment it is reported, which callers do before they read it
  // where they can; if a fingerprint moved by the end, an input changed while the answer was being
  // derived from it, and the answer is used this once but not remembered.
  const observed = new Map<string, string>();
  const value = await memoized.derive((path) => {
    if (!observed.has(path)) observed.set(path, fileFingerprint(path) ?? ABSENT);
  });
  const entries = [...observed].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.every(([path, print]) => (fileFingerprint(path) ?? ABSENT) === print)) {
    memo.remember(memoized.key, JSON.stringify({ observed: entries, value: memoized.encode(value) }));
  }
  return value;
}

const ABSENT = 'absent';

function parseRemembered(text: string | undefined): { observed: [string, string][]; value: unknown } | undefined {
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const { observed, value } = json as Record<string, unknown>;
  const isPair = (pair: unknown): pair is [string, string] =>
    Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string' && pair[0].startsWith('/') && typeof pair[1] === 'string';
  if (!Array.isArray(observed) || !observed.every(isPair)) return undefined;
  return { observed, value };
}
