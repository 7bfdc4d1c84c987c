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

const BLOCK_SIZE = 512;
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
    chunks.push(encodeHeader(entry));
    if (entry.type === 'file' && entry.content.byteLength > 0) {
      chunks.push(Buffer.from(entry.content.buffer, entry.content.byteOffset, entry.content.byteLength));
      const padding = (BLOCK_SIZE - (entry.content.byteLength % BLOCK_SIZE)) % BLOCK_SIZE;
      if (padding > 0) chunks.push(Buffer.alloc(padding));
    }
  }
  // Two zero blocks mark the end of the archive.
  chunks.push(Buffer.alloc(BLOCK_SIZE * 2));
  return Buffer.concat(chunks);
}

/** Byte order of the UTF-8 path, so the order never depends on locale or on JavaScript's UTF-16 sort. */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function encodeHeader(entry: TarEntry): Buffer {
  const header = new Header({
    path: entry.type === 'directory' ? `${entry.path}/` : entry.path,
    mode: entry.type === 'symlink' ? 0o777 : entry.mode,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    size: entry.type === 'file' ? entry.content.byteLength : 0,
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
