import { lstat, mkdir, readFile, realpath, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { nodeAtomicWriteSteps, writeFileAtomic, type AtomicWriteSteps } from '../config/atomic-write.js';
import { CarapaceError } from '../errors.js';

/** A client's configuration file as read, before any change. */
export interface ClientConfigFile {
  /** The real path: a dotfiles symlink is followed, so the link stays and its target is edited. */
  readonly file: string;
  readonly exists: boolean;
  /** The exact text read ('' when the file does not exist). */
  readonly text: string;
  /** Permission bits to keep: the file's own, or 0600 for a new one (these files can hold tokens). */
  readonly mode: number;
}

const NEW_FILE_MODE = 0o600;
const NEW_DIRECTORY_MODE = 0o700;

/** Reads a client's configuration file; a missing one is not an error (setup creates it). */
export async function readClientConfigFile(path: string): Promise<ClientConfigFile> {
  const file = await realFile(resolve(path));
  try {
    const stats = await stat(file);
    // A FIFO or a device would block or stream forever; only a regular file is a config file.
    if (!stats.isFile()) throw unreadable(file, 'is not a regular file');
    return { file, exists: true, text: await readFile(file, 'utf8'), mode: stats.mode & 0o777 };
  } catch (error) {
    if (error instanceof CarapaceError) throw error;
    if (isErrno(error, 'ENOENT')) return { file, exists: false, text: '', mode: NEW_FILE_MODE };
    throw unreadable(file, `cannot be read (${errorMessage(error)})`, error);
  }
}

/**
 * Replaces the file with `text`: first a backup of the current content beside it
 * (`<file>.carapace-backup-<time>`, same mode), then an atomic write that keeps the file's mode.
 * A missing file is created 0600, with its folder 0700, and needs no backup. If the file changed
 * since it was read (the client saving it meanwhile), nothing is written: the client's change
 * would otherwise be lost. A backup already written is kept on any failure and named in it.
 * Returns the backup's path, undefined for a new file.
 */
export async function replaceClientConfigFile(
  current: ClientConfigFile,
  text: string,
  now: Date,
  steps: AtomicWriteSteps = nodeAtomicWriteSteps,
): Promise<string | undefined> {
  let backup: string | undefined;
  try {
    if (current.exists) {
      backup = await unusedBackupPath(current.file, now);
      await writeFileAtomic(backup, current.text, current.mode, steps);
    } else {
      await mkdir(dirname(current.file), { recursive: true, mode: NEW_DIRECTORY_MODE });
    }
    await verifyUnchanged(current);
    await writeFileAtomic(current.file, text, current.mode, steps);
    return backup;
  } catch (error) {
    const kept = backup === undefined ? '' : `; the backup ${backup} is kept`;
    const reason = error instanceof CarapaceError ? error.message : `could not be written (${errorMessage(error)})`;
    throw new CarapaceError('CLIENT_CONFIG_WRITE_FAILED', `${current.file} ${reason}${kept}`, {
      cause: error,
      details: { file: current.file, ...(backup === undefined ? {} : { backup }) },
    });
  }
}

/** `<file>.carapace-backup-2025-01-02T030405.678Z`: sortable, and without colons, which some filesystems refuse. */
export function backupPath(file: string, now: Date): string {
  return `${file}.carapace-backup-${now.toISOString().replace(/:/g, '')}`;
}

/** Two runs in one millisecond (a script: setup, then remove) must not overwrite the first backup. */
async function unusedBackupPath(file: string, now: Date): Promise<string> {
  const base = backupPath(file, now);
  for (let attempt = 0; ; attempt += 1) {
    const candidate = attempt === 0 ? base : `${base}-${attempt}`;
    if ((await lstat(candidate).catch(() => undefined)) === undefined) return candidate;
  }
}

async function verifyUnchanged(current: ClientConfigFile): Promise<void> {
  const text = await readFile(current.file, 'utf8').catch((error: unknown) => {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  });
  if (text !== (current.exists ? current.text : undefined)) {
    throw new CarapaceError('CLIENT_CONFIG_WRITE_FAILED', 'changed while Carapace was editing it (is the client running and saving it?); it was not written, run the command again');
  }
}

/** Follows symlinks to the file they name; a link to nothing is refused rather than replaced by a file. */
async function realFile(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw unreadable(path, `cannot be resolved (${errorMessage(error)})`, error);
  }
  const link = await lstat(path).catch(() => undefined);
  if (link?.isSymbolicLink() === true) throw unreadable(path, 'is a symbolic link to a file that does not exist');
  return path;
}

function unreadable(file: string, why: string, cause?: unknown): CarapaceError {
  return new CarapaceError('CLIENT_CONFIG_UNREADABLE', `${file} ${why}`, { ...(cause === undefined ? {} : { cause }), details: { file } });
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
