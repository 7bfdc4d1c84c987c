import { execFile } from 'node:child_process';
import { posix } from 'node:path';
import { promisify } from 'node:util';
import { CarapaceError } from '../errors.js';
import type { Observe } from './build-memo.js';

const execFileAsync = promisify(execFile);

export interface SharedLibraryOptions {
  /** The `ldd` to run; defaults to the one on PATH. */
  readonly ldd?: string;
  /** Told what ldd's answers depend on: each binary and the loader's cache (see build-memo.ts). */
  readonly observe?: Observe;
}

/** The cache ldconfig rewrites whenever libraries are installed or removed; the loader searches it first. */
const LOADER_CACHE = '/etc/ld.so.cache';

/**
 * The shared libraries (and the dynamic loader) the host's dynamic linker resolves for each binary,
 * as absolute paths exactly as `ldd` lists them, deduplicated and sorted. An image copies each to
 * the same path, so the loader finds them where it found them on the host.
 *
 * `ldd` may run the binary's own interpreter, so only pass binaries Carapace already trusts (the
 * host's node, addons from Carapace's own node_modules). A library ldd cannot find fails the build:
 * an image that would crash at its first `dlopen` is worse than no image.
 */
export async function listSharedLibraries(binaries: readonly string[], options: SharedLibraryOptions = {}): Promise<string[]> {
  const found = new Set<string>();
  options.observe?.(LOADER_CACHE);
  for (const binary of binaries) {
    options.observe?.(binary);
    let stdout: string;
    try {
      ({ stdout } = await execFileAsync(options.ldd ?? 'ldd', [binary], { maxBuffer: 1024 * 1024, timeout: 30_000 }));
    } catch (error) {
      throw new CarapaceError('IMAGE_BUILD_FAILED', `cannot list the shared libraries of ${binary} with ldd`, {
        cause: error,
        details: { binary },
      });
    }
    for (const path of parseLddOutput(stdout, binary)) found.add(path);
  }
  return [...found].sort();
}

/**
 * Reads `ldd`'s listing: `name => /path (0x...)` for a library, `/path (0x...)` for the loader, a
 * bare name for the kernel's vDSO (no file to copy), and `statically linked` for no libraries.
 */
export function parseLddOutput(text: string, binary: string): string[] {
  const paths: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line === 'statically linked') continue;
    const arrow = /^(\S+) => (.*?)(?: \(0x[0-9a-f]+\))?$/.exec(line);
    const target = arrow === null ? /^(\S+) \(0x[0-9a-f]+\)$/.exec(line)?.[1] : arrow[2];
    if (target === undefined) {
      throw new CarapaceError('IMAGE_BUILD_FAILED', `unexpected ldd output for ${binary}: ${line}`, { details: { binary, line } });
    }
    // linux-vdso.so.1 (or `linux-vdso.so.1 =>  (0x...)` from older glibc) is provided by the kernel.
    if ((arrow === null && !target.includes('/')) || target === '') continue;
    if (target === 'not found' || !posix.isAbsolute(target)) {
      throw new CarapaceError('IMAGE_BUILD_FAILED', `${binary} needs ${arrow?.[1] ?? target}, which the host's loader cannot find`, {
        details: { binary, library: arrow?.[1] ?? target },
      });
    }
    paths.push(target);
  }
  return paths;
}
