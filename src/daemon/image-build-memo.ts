import { join } from 'node:path';
import type { HomeLayout } from '../config/carapace-home.js';
import type { BuildMemo } from '../images/build-memo.js';
import { readKeyedEntries, saveKeyedEntries, type KeyedEntriesFormat } from '../trust/keyed-entries-file.js';

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
    return new ImageBuildMemo(file, await readKeyedEntries(file, MEMO_FORMAT));
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
    await saveKeyedEntries(this.#file, learned, MEMO_FORMAT);
  }
}

// Per built-in: one recipe (~30 KB) and one small digest entry per set of inputs seen; the oldest go first.
const MAX_VALUE_LENGTH = 256 * 1024;
const MEMO_FORMAT: KeyedEntriesFormat<string> = {
  valueField: 'value',
  narrow: (value) => (typeof value === 'string' && value.length <= MAX_VALUE_LENGTH ? value : undefined),
  maxEntries: 64,
};
