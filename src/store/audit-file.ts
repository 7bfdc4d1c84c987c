import { closeSync, constants, fchmodSync, lstatSync, openSync, type Stats } from 'node:fs';
import { CarapaceError } from '../errors.js';

/**
 * The audit database and its WAL files hold sanitized arguments and the story of every call, so
 * they are owner-only. SQLite creates the database with the process umask and follows symlinks,
 * so the file is created here first, 0600, and any existing file is checked before SQLite opens it.
 */

/** SQLite's companion files; it gives them the database file's permissions, but they may pre-exist. */
const COMPANION_SUFFIXES = ['-wal', '-shm', '-journal'] as const;

/** Creates the database file 0600 if it is missing and refuses one that is not owner-only. */
export function prepareAuditFile(path: string): void {
  const uid = currentUid();
  if (statOrUndefined(path) === undefined) createOwnerOnly(path);
  verifyOwnerOnlyFiles(path, uid);
}

/**
 * The same checks for a reader, which must not create anything: a missing database is
 * AUDIT_NOT_FOUND rather than a new empty log that would look like a log with no history.
 */
export function verifyExistingAuditFile(path: string): void {
  const uid = currentUid();
  if (statOrUndefined(path) === undefined) {
    throw new CarapaceError('AUDIT_NOT_FOUND', `there is no audit log at ${path}; the core creates it when it first starts`, {
      details: { path },
    });
  }
  verifyOwnerOnlyFiles(path, uid);
}

function verifyOwnerOnlyFiles(path: string, uid: number): void {
  for (const file of [path, ...COMPANION_SUFFIXES.map((suffix) => path + suffix)]) {
    const stats = statOrUndefined(file);
    if (stats !== undefined) verifyOwnerOnlyFile(file, stats, uid);
  }
}

function createOwnerOnly(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600);
  } catch (error) {
    // Another process created it first: the checks that follow judge that file instead.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw new CarapaceError('AUDIT_UNAVAILABLE', `cannot create the audit log ${path}`, { cause: error, details: { path } });
  }
  try {
    // The umask may have cleared bits but never adds any; fchmod makes 0600 exact either way.
    fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
}

function verifyOwnerOnlyFile(path: string, stats: Stats, uid: number): void {
  const problem = stats.isSymbolicLink()
    ? 'is a symlink'
    : !stats.isFile()
      ? 'is not a regular file'
      : stats.uid !== uid
        ? `is owned by uid ${stats.uid}, not ${uid}`
        : (stats.mode & 0o077) !== 0
          ? `has mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}; group and others must have no access`
          : undefined;
  if (problem !== undefined) {
    throw new CarapaceError('AUDIT_INSECURE', `the audit log file ${path} ${problem}`, { details: { path, problem } });
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CarapaceError('AUDIT_UNAVAILABLE', `cannot inspect ${path}`, { cause: error, details: { path } });
  }
}

function currentUid(): number {
  const uid = process.geteuid?.();
  // Without a uid there is no ownership check, and an unchecked audit file is not one we trust.
  if (uid === undefined) throw new CarapaceError('AUDIT_UNAVAILABLE', 'cannot check file ownership on this platform');
  return uid;
}
