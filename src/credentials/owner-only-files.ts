import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, rm, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { CarapaceError } from '../errors.js';
import { credentialValueProblem, MAX_CREDENTIAL_VALUE_BYTES } from '../wire/credential-message.js';

/**
 * The filesystem side of the credential store: owner-only directories and files, checked with
 * lstat before use and never fixed silently. A looser mode or a foreign owner means someone else
 * could have read or planted a secret, and the person who owns the machine should find out.
 */

/** Refuses a directory that is a symlink, not a directory, not ours, or open to group or others. */
export function directoryProblem(stats: Stats, uid: number): string | undefined {
  if (stats.isSymbolicLink()) return 'is a symlink';
  if (!stats.isDirectory()) return 'is not a directory';
  if (stats.uid !== uid) return `is owned by uid ${stats.uid}, not ${uid}`;
  if ((stats.mode & 0o077) !== 0) return `has mode ${modeText(stats)}; it must be 0700`;
  return undefined;
}

/** Refuses a file that is a symlink, not a regular file, not ours, or anything looser than 0600. */
export function fileProblem(stats: Stats, uid: number): string | undefined {
  if (stats.isSymbolicLink()) return 'is a symlink';
  if (!stats.isFile()) return 'is not a regular file';
  if (stats.uid !== uid) return `is owned by uid ${stats.uid}, not ${uid}`;
  if ((stats.mode & 0o177) !== 0) return `has mode ${modeText(stats)}; it must be 0600`;
  return undefined;
}

/** lstat that returns undefined for a missing path and translates every other failure. */
export async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw storeFailed(`cannot inspect ${path}`, path, error);
  }
}

/** Checks an existing directory; returns false when it does not exist. */
export async function verifyOwnerOnlyDirectory(path: string, uid: number): Promise<boolean> {
  const stats = await lstatOrUndefined(path);
  if (stats === undefined) return false;
  const problem = directoryProblem(stats, uid);
  if (problem !== undefined) throw insecure(path, problem);
  return true;
}

/** Creates the directory 0700 if it is missing (its parent must exist), then checks it. */
export async function ensureOwnerOnlyDirectory(path: string, uid: number): Promise<void> {
  try {
    await mkdir(path, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw storeFailed(`cannot create ${path}`, path, error);
  }
  if (!(await verifyOwnerOnlyDirectory(path, uid))) throw storeFailed(`${path} vanished after it was created`, path);
}

/**
 * Reads a credential file, or returns undefined if there is none. lstat judges the path first;
 * O_NOFOLLOW and a comparison of the opened file with what lstat saw close the window in which
 * the file could be swapped for a symlink between the check and the open.
 */
export async function readOwnerOnlyFile(path: string, uid: number): Promise<string | undefined> {
  const seen = await lstatOrUndefined(path);
  if (seen === undefined) return undefined;
  const problem = fileProblem(seen, uid);
  if (problem !== undefined) throw insecure(path, problem);
  let handle: FileHandle;
  try {
    // O_NONBLOCK: should a FIFO appear here after the check, open must not hang waiting for a writer.
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw insecure(path, 'is a symlink');
    if (code === 'ENOENT') return undefined;
    throw storeFailed(`cannot open ${path}`, path, error);
  }
  try {
    const opened = await handle.stat();
    if (opened.ino !== seen.ino || opened.dev !== seen.dev) throw insecure(path, 'was replaced while it was being opened');
    const openedProblem = fileProblem(opened, uid);
    if (openedProblem !== undefined) throw insecure(path, openedProblem);
    if (opened.size > MAX_CREDENTIAL_VALUE_BYTES) throw invalidValue(path, `is larger than ${MAX_CREDENTIAL_VALUE_BYTES} bytes`);
    const bytes = await handle.readFile();
    try {
      const value = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
      const valueProblem = credentialValueProblem(value);
      if (valueProblem !== undefined) throw invalidValue(path, valueProblem);
      return value;
    } catch (error) {
      throw error instanceof CarapaceError ? error : invalidValue(path, 'is not valid UTF-8');
    } finally {
      bytes.fill(0);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `directory/name` with `value`, atomically: a temp file created 0600 with O_EXCL and
 * O_NOFOLLOW, written, fsynced, renamed over the target, then the directory fsynced. A reader
 * sees the old value or the new one, never half of one; a failure removes the temp file.
 */
export async function writeOwnerOnlyFile(directory: string, name: string, value: string): Promise<void> {
  const target = join(directory, name);
  // Dot-prefixed: credential names start with a letter, so a temp file is never mistaken for one.
  const temp = join(directory, `.${name}.${randomBytes(8).toString('hex')}.tmp`);
  const bytes = Buffer.from(value, 'utf8');
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    // The umask can only clear bits, but make the mode exact rather than rely on that.
    await handle.chmod(0o600);
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, target);
  } catch (error) {
    const leftover = await discard(temp, handle);
    throw storeFailed(`cannot write ${target}${leftover}`, target, error);
  } finally {
    bytes.fill(0);
  }
  await syncDirectory(directory);
}

/** Removes `directory/name` (a symlink there is removed itself, never followed); false if absent. */
export async function removeFile(directory: string, name: string): Promise<boolean> {
  const target = join(directory, name);
  try {
    await unlink(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw storeFailed(`cannot remove ${target}`, target, error);
  }
  await syncDirectory(directory);
  return true;
}

/** Makes a rename or unlink durable: the directory entry itself is only on disk after this. */
async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw storeFailed(`cannot sync ${directory}`, directory, error);
  }
}

/** Cleans up after a failed write; returns a note for the error if the temp file had to stay. */
async function discard(temp: string, handle: FileHandle | undefined): Promise<string> {
  // The write already failed and that error is the one reported; a close that fails as well
  // changes nothing about it, so only the removal of the temp file decides the note.
  await handle?.close().catch(() => undefined);
  try {
    await rm(temp, { force: true });
    return '';
  } catch (cleanupError) {
    return ` (and the temp file ${temp} could not be removed: ${(cleanupError as Error).message})`;
  }
}

function modeText(stats: Stats): string {
  return (stats.mode & 0o777).toString(8).padStart(4, '0');
}

function insecure(path: string, problem: string): CarapaceError {
  return new CarapaceError('CREDENTIAL_INSECURE', `${path} ${problem}`, { details: { path, problem } });
}

function invalidValue(path: string, problem: string): CarapaceError {
  return new CarapaceError('CREDENTIAL_VALUE_INVALID', `the credential in ${path} ${problem}`, { details: { path, problem } });
}

function storeFailed(message: string, path: string, cause?: unknown): CarapaceError {
  return new CarapaceError('CREDENTIAL_STORE_FAILED', message, { cause, details: { path } });
}
