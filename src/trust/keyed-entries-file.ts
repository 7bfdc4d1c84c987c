import { readTrustFile, writeTrustFile } from './trust-file.js';

/**
 * A trust-folder file of `{ version: 1, entries: [{ key, <valueField> }] }`, keys SHA-256 hex, for
 * what is worth remembering but cheap to lose: the verification cache, the image build memo. A
 * file that is off in any way counts as empty and is rewritten whole at the next save; an insecure
 * one (a symlink, writable by others) still throws, as every trust file does.
 */
export interface KeyedEntriesFormat<T> {
  /** The entry field that holds the value (`value`, `result`): each file keeps its own format. */
  readonly valueField: string;
  /** The value, or `undefined` when it is off. */
  readonly narrow: (value: unknown) => T | undefined;
  /** The newest this many entries are kept. */
  readonly maxEntries: number;
}

const KEY_PATTERN = /^[0-9a-f]{64}$/;
const writesInProcess = new Map<string, Promise<void>>();

export async function readKeyedEntries<T>(file: string, format: KeyedEntriesFormat<T>): Promise<Map<string, T>> {
  const text = await readTrustFile(file);
  return text === undefined ? new Map() : parseEntries(text, format);
}

/**
 * Writes `changes` over what is on disk now (others in this process or another may have saved
 * since this one read), newest last, keeping `maxEntries`. Atomic, 0600, not fsynced: a write lost
 * in a crash costs one re-computation. Writers in this process queue; across processes the last
 * writer wins, at the same cost.
 */
export async function saveKeyedEntries<T>(file: string, changes: ReadonlyMap<string, T>, format: KeyedEntriesFormat<T>): Promise<void> {
  const previous = writesInProcess.get(file) ?? Promise.resolve();
  const run = previous
    .catch(() => undefined)
    .then(async () => {
      const merged = await readKeyedEntries(file, format);
      for (const [key, value] of changes) {
        merged.delete(key);
        merged.set(key, value);
      }
      for (const key of merged.keys()) {
        if (merged.size <= format.maxEntries) break;
        merged.delete(key);
      }
      const entries = [...merged].map(([key, value]) => ({ key, [format.valueField]: value }));
      await writeTrustFile(file, `${JSON.stringify({ version: 1, entries })}\n`, { durable: false });
    });
  writesInProcess.set(file, run);
  try {
    await run;
  } finally {
    if (writesInProcess.get(file) === run) writesInProcess.delete(file);
  }
}

function parseEntries<T>(text: string, format: KeyedEntriesFormat<T>): Map<string, T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return new Map();
  }
  if (!isRecord(json) || json['version'] !== 1 || !Array.isArray(json['entries'])) return new Map();
  const entries = new Map<string, T>();
  for (const entry of json['entries'] as unknown[]) {
    const key = isRecord(entry) ? entry['key'] : undefined;
    const value = isRecord(entry) ? format.narrow(entry[format.valueField]) : undefined;
    if (typeof key !== 'string' || !KEY_PATTERN.test(key) || value === undefined) return new Map();
    entries.set(key, value);
  }
  return entries;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
