import { join } from 'node:path';
import type { HomeLayout } from '../config/carapace-home.js';
import type { BuildMemo } from '../images/build-memo.js';
import { readTrustFile, writeTrustFile } from '../trust/trust-file.js';

/** Where a home keeps what its built-in image builds learned: owner-only, beside the verification cache. */
export function imageBuildMemoFile(layout: HomeLayout): string {
  return join(layout.trustDir, 'image-builds.json');
}

/**
 * The built-in images' BuildMemo, persisted so that a start in a new process does not compose an
 * image whose inputs have not changed since it last composed to the pinned digest. Like the
 * verification cache, it can only skip work: the gate holds whatever it answers to the pin, the
 * runtime's digest and the signature, and a disagreement is decided by a build without the memo.
 * A file that does not parse is treated as empty and rewritten whole at the next save; one that is
 * insecure (a symlink, writable by others) is refused with HOME_INSECURE, as every trust file is.
 */
export class ImageBuildMemo implements BuildMemo {
  readonly #file: string;
  readonly #entries: Map<string, string>;
  readonly #learned = new Map<string, string>();

  private constructor(file: string, entries: Map<string, string>) {
    this.#file = file;
    this.#entries = entries;
  }

  static async open(file: string): Promise<ImageBuildMemo> {
    const text = await readTrustFile(file);
    return new ImageBuildMemo(file, text === undefined ? new Map() : parseEntries(text));
  }

  recall(key: string): string | undefined {
    return this.#entries.get(key);
  }

  remember(key: string, value: string): void {
    if (this.#entries.get(key) === value) return;
    this.#entries.set(key, value);
    this.#learned.set(key, value);
  }

  /** A view that remembers into this memo and recalls nothing: for builds that sign or re-pin. */
  get learnOnly(): BuildMemo {
    return { recall: () => undefined, remember: (key, value) => this.remember(key, value) };
  }

  /**
   * Writes what was learned since the last save (nothing learned: no write), merged with what is on
   * disk now, since echo and memory build in parallel, each with its own memo. Writers in this
   * process queue; across processes the last writer wins, which costs at most one composition.
   * Keeps the newest MAX_ENTRIES.
   */
  async save(): Promise<void> {
    if (this.#learned.size === 0) return;
    const learned = new Map(this.#learned);
    this.#learned.clear();
    const file = this.#file;
    const previous = writesInProcess.get(file) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(async () => {
      const text = await readTrustFile(file);
      const merged = text === undefined ? new Map<string, string>() : parseEntries(text);
      for (const [key, value] of learned) {
        merged.delete(key);
        merged.set(key, value);
      }
      for (const key of merged.keys()) {
        if (merged.size <= MAX_ENTRIES) break;
        merged.delete(key);
      }
      const entries = [...merged].map(([key, value]) => ({ key, value }));
      // Not fsynced: a write lost in a crash costs one composition.
      await writeTrustFile(file, `${JSON.stringify({ version: 1, entries })}\n`, { durable: false });
    });
    writesInProcess.set(file, run);
    try {
      await run;
    } finally {
      if (writesInProcess.get(file) === run) writesInProcess.delete(file);
    }
  }
}

// Per built-in: one recipe (~30 KB) and one small digest entry per set of inputs seen; the oldest go first.
const MAX_ENTRIES = 64;
const MAX_VALUE_LENGTH = 256 * 1024;
const KEY_PATTERN = /^[0-9a-f]{64}$/;
const writesInProcess = new Map<string, Promise<void>>();

/** The file's entries, or none at all if anything in it is off (it is rewritten whole at the next save). */
function parseEntries(text: string): Map<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return new Map();
  }
  if (typeof json !== 'object' || json === null) return new Map();
  const { version, entries } = json as Record<string, unknown>;
  if (version !== 1 || !Array.isArray(entries)) return new Map();
  const parsed = new Map<string, string>();
  for (const entry of entries as unknown[]) {
    const { key, value } = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    if (typeof key !== 'string' || !KEY_PATTERN.test(key) || typeof value !== 'string' || value.length > MAX_VALUE_LENGTH) return new Map();
    parsed.set(key, value);
  }
  return parsed;
}
