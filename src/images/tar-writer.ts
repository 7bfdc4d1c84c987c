import { Header } from 'tar';
import { CarapaceError } from '../errors.js';

/**
 * One entry of a deterministic tar stream. Only what an image needs: no hard links, devices or
 * owners, because each of those is a way for two builds of the same inputs to differ.
 */
export type TarEntry =
  | { readonly type: 'file'; readonly path: string; readonly mode: number; readonly content: Uint8Array }
  | { readonly type: 'directory'; readonly path: string; readonly mode: number }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string };

/** What a header says about an entry: a file's size, not its content (which may be streamed after it). */
export type TarHeaderEntry =
  | { readonly type: 'file'; readonly path: string; readonly mode: number; readonly size: number }
  | { readonly type: 'directory'; readonly path: string; readonly mode: number }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string };

export const BLOCK_SIZE = 512;
/** Every entry claims the Unix epoch, so the build time never reaches the bytes (Nix does the same). */
const FIXED_MTIME = new Date(0);

/**
 * Serialises entries as a ustar stream with fixed metadata: sorted by path, mtime 0, uid/gid 0,
 * empty user and group names. We encode headers with `tar`'s `Header` ourselves because its `Pack`
 * copies modes, owners and times from the filesystem and cannot take inline content.
 *
 * Paths are relative (`bin/busybox`); directories get the trailing slash tar readers expect.
 */
export function toTarBytes(entries: readonly TarEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => comparePaths(a.path, b.path));
  const chunks: Buffer[] = [];
  let previous: string | undefined;
  for (const entry of sorted) {
    if (entry.path === previous) {
      throw new CarapaceError('IMAGE_BUILD_FAILED', `tar entry ${entry.path} appears twice`);
    }
    previous = entry.path;
    chunks.push(toTarHeader(entry.type === 'file' ? { type: 'file', path: entry.path, mode: entry.mode, size: entry.content.byteLength } : entry));
    if (entry.type === 'file' && entry.content.byteLength > 0) {
      chunks.push(Buffer.from(entry.content.buffer, entry.content.byteOffset, entry.content.byteLength));
      chunks.push(tarPadding(entry.content.byteLength));
    }
  }
  chunks.push(tarEnd());
  return Buffer.concat(chunks);
}

/** The zero bytes that fill a file's content up to the next block. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE);
}

/** Two zero blocks mark the end of the archive. */
export function tarEnd(): Buffer {
  return Buffer.alloc(BLOCK_SIZE * 2);
}

/** Byte order of the UTF-8 path, so the order never depends on locale or on JavaScript's UTF-16 sort. */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** One entry's header block, with the fixed metadata described at toTarBytes. */
export function toTarHeader(entry: TarHeaderEntry): Buffer {
  const header = new Header({
    path: entry.type === 'directory' ? `${entry.path}/` : entry.path,
    mode: entry.type === 'symlink' ? 0o777 : entry.mode,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    size: entry.type === 'file' ? entry.size : 0,
    mtime: FIXED_MTIME,
    type: entry.type === 'file' ? 'File' : entry.type === 'directory' ? 'Directory' : 'SymbolicLink',
    linkpath: entry.type === 'symlink' ? entry.target : '',
    devmaj: 0,
    devmin: 0,
  });
  const block = Buffer.alloc(BLOCK_SIZE);
  // encode() answers true when a field does not fit plain ustar. We do not write pax headers yet
  // (paths over 100 bytes that cannot be split at a slash, non-ASCII names, files over 8 GiB), so
  // we refuse rather than let tar truncate a name silently.
  if (header.encode(block, 0)) {
    throw new CarapaceError('IMAGE_BUILD_FAILED', `tar entry ${entry.path} does not fit a ustar header`, {
      details: { path: entry.path },
    });
  }
  return block;
}
