import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { link, lstat, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CarapaceError } from '../errors.js';

/**
 * The files of the trust layer (policy, revocation list, signing key, verification cache, lock):
 * read without following symlinks, written atomically and owner-only. Whoever can swap one of them
 * for a symlink or write into it decides what Carapace runs, so a file that is not a plain file of
 * ours, or that others could write, is refused rather than read.
 */

/** Files the trust layer reads are small; anything larger is not one of ours. */
export const MAX_TRUST_FILE_BYTES = 8 * 1024 * 1024;

export interface ReadTrustFileOptions {
  /** The uid that must own the file; defaults to the current process's. */
  readonly uid?: number;
  /** Refuse group or other read bits too (private keys), not only write bits. */
  readonly secret?: boolean;
}

/** Why the file cannot be trusted, or undefined if it is a plain file of ours that nobody else can write. */
export function trustFileProblem(stats: Stats, uid: number, secret = false): string | undefined {
  if (stats.isSymbolicLink()) return 'is a symlink';
  if (!stats.isFile()) return 'is not a regular file';
  if (stats.uid !== uid) return `is owned by uid ${stats.uid}, not ${uid}`;
  const loose = secret ? 0o077 : 0o022;
  if ((stats.mode & loose) !== 0) {
    const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
    return `has mode ${mode}; it must be ${secret ? '0600' : 'writable by its owner only'}`;
  }
  return undefined;
}

/**
 * Reads `file` as UTF-8, or returns undefined when it does not exist. lstat judges the path first,
 * then O_NOFOLLOW and a comparison of the opened inode with what lstat saw close the window in which
 * the file could be swapped for a symlink between the check and the open.
 */
export async function readTrustFile(file: string, options: ReadTrustFileOptions = {}): Promise<string | undefined> {
  // Our own writers replace these files by rename (the core pins built-ins while it checks other
  // plugins' pins), so an inode that changed between lstat and open is usually a completed write:
  // look again, with every check, a few times. A path that keeps changing is still refused.
  for (let attempt = 1; ; attempt++) {
    const text = await readTrustFileOnce(file, options);
    if (text !== REPLACED) return text;
    if (attempt === REPLACED_ATTEMPTS) throw insecure(file, 'was replaced while it was being opened');
  }
}

const REPLACED: unique symbol = Symbol('replaced');
const REPLACED_ATTEMPTS = 3;

async function readTrustFileOnce(file: string, options: ReadTrustFileOptions): Promise<string | undefined | typeof REPLACED> {
  const uid = options.uid ?? process.getuid?.() ?? 0;
  const seen = await lstatOrUndefined(file);
  if (seen === undefined) return undefined;
  const problem = trustFileProblem(seen, uid, options.secret);
  if (problem !== undefined) throw insecure(file, problem);
  let handle: FileHandle;
  try {
    // O_NONBLOCK: should a FIFO appear here after the check, open must not hang waiting for a writer.
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw insecure(file, 'is a symlink');
    throw unavailable(`cannot open ${file}`, file, error);
  }
  try {
    const opened = await handle.stat();
    if (opened.ino !== seen.ino || opened.dev !== seen.dev) return REPLACED;
    const openedProblem = trustFileProblem(opened, uid, options.secret);
    if (openedProblem !== undefined) throw insecure(file, openedProblem);
    if (opened.size > MAX_TRUST_FILE_BYTES) throw insecure(file, `is larger than ${MAX_TRUST_FILE_BYTES} bytes`);
    return await handle.readFile('utf8');
  } catch (error) {
    if (error instanceof CarapaceError) throw error;
    throw unavailable(`cannot read ${file}`, file, error);
  } finally {
    await handle.close();
  }
}

export interface WriteTrustFileOptions {
  /** Fail with EEXIST instead of replacing an existing file (a key created by a concurrent process wins). */
  readonly exclusive?: boolean;
  /**
   * False for caches: no fsync of the file or its directory. The rename still replaces the file
   * atomically for readers; only a crash can lose the write or leave an empty file, which a cache
   * reads as empty. The fsyncs cost 25-200 ms on a busy disk, on the path of a plugin's first start.
   */
  readonly durable?: boolean;
}

/**
 * Replaces `file` with `data`, mode 0600, so a reader sees the old content or the new, never half:
 * a temp file beside it (O_EXCL|O_NOFOLLOW), fsync, rename (or link, when `exclusive`), fsync of the
 * directory (no fsyncs when not `durable`). Any failure removes the temp file and leaves `file` as it was.
 */
export async function writeTrustFile(file: string, data: string, options: WriteTrustFileOptions = {}): Promise<void> {
  const directory = dirname(file);
  const temp = join(directory, `.${basename(file)}.${randomBytes(8).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    // The umask can only clear bits, but make the mode exact rather than rely on that.
    await handle.chmod(0o600);
    await handle.writeFile(data, 'utf8');
    if (options.durable !== false) await handle.sync();
    await handle.close();
    handle = undefined;
    if (options.exclusive === true) {
      // link(2) never replaces an existing name, so of two processes creating the file one wins whole.
      await link(temp, file);
      await rm(temp, { force: true });
    } else {
      await rename(temp, file);
    }
  } catch (error) {
    // The write already failed and that error is the one reported; cleanup failures change nothing.
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    if ((error as NodeJS.ErrnoException).code === 'EEXIST' && options.exclusive === true) throw error;
    throw unavailable(`cannot write ${file}`, file, error);
  }
  if (options.durable !== false) await syncDirectory(directory);
}

async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw unavailable(`cannot sync ${directory}`, directory, error);
  }
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unavailable(`cannot inspect ${path}`, path, error);
  }
}

function insecure(path: string, problem: string): CarapaceError {
  return new CarapaceError('HOME_INSECURE', `${path} ${problem}`, { details: { path, problem } });
}

function unavailable(message: string, path: string, cause: unknown): CarapaceError {
  return new CarapaceError('HOME_UNAVAILABLE', message, { cause, details: { path } });
}
