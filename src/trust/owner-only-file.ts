import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CarapaceError } from '../errors.js';

/**
 * Reading and writing the small owner-only files of the trust layer (the lock, bundles, policy,
 * revocations, cache). They decide what may run, so a symlink planted at one of their paths is
 * refused rather than followed (it could point a write at another file, or a read at the
 * attacker's policy), and a write is atomic: a crash leaves the old file or the new one, never half.
 */

/**
 * The file's text, or undefined if there is none. A symlink or non-regular file is refused with
 * HOME_INSECURE; O_NOFOLLOW closes the window between the lstat and the open.
 */
export async function readOwnerOnlyFile(path: string): Promise<string | undefined> {
  let seen;
  try {
    seen = await lstat(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw new CarapaceError('HOME_UNAVAILABLE', `cannot inspect ${path}: ${messageOf(error)}`, { cause: error, details: { path } });
  }
  if (seen.isSymbolicLink() || !seen.isFile()) throw new CarapaceError('HOME_INSECURE', `${path} is not a regular file`, { details: { path } });
  let handle: FileHandle | undefined;
  try {
    // O_NONBLOCK: should a FIFO appear here after the check, open must not hang waiting for a writer.
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const opened = await handle.stat();
    if (!opened.isFile() || opened.ino !== seen.ino || opened.dev !== seen.dev) {
      throw new CarapaceError('HOME_INSECURE', `${path} changed while it was opened`, { details: { path } });
    }
    return await handle.readFile('utf8');
  } catch (error) {
    if (error instanceof CarapaceError) throw error;
    if (isErrno(error, 'ENOENT')) return undefined;
    if (isErrno(error, 'ELOOP')) throw new CarapaceError('HOME_INSECURE', `${path} is a symbolic link`, { details: { path } });
    throw new CarapaceError('HOME_UNAVAILABLE', `cannot read ${path}: ${messageOf(error)}`, { cause: error, details: { path } });
  } finally {
    await handle?.close();
  }
}

/**
 * Replaces `path` with `data`, mode 0600: a temp file beside it created with O_EXCL (never an
 * existing file, so never through a symlink), fsync, rename over the target, fsync the directory.
 * On failure before the rename the temp file is removed and `path` is untouched.
 */
export async function writeOwnerOnlyFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.chmod(0o600);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    if (!isErrno(error, 'EEXIST')) await rm(temp, { force: true }).catch(() => undefined);
    throw new CarapaceError('HOME_UNAVAILABLE', `cannot write ${path}: ${messageOf(error)}`, { cause: error, details: { path } });
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
