import { closeSync, constants, fsync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { CarapaceError } from '../errors.js';

/**
 * Fsyncs the audit log's WAL file in the background, so commits made with `synchronous = NORMAL`
 * reach the disk within `intervalMs` without the core's main thread waiting for the disk.
 * A commit is in the WAL file (the page cache) when it returns, which a killed process cannot
 * undo; this bounds what a power loss or kernel crash can take to the commits of the last interval.
 * fsync works on the file, not on the descriptor, so a descriptor of our own flushes what
 * SQLite's connection wrote.
 */
export interface WalSyncer {
  /** Notes a commit that is not on disk yet; an fsync follows within the interval. */
  committed(): void;
  /**
   * Throws AUDIT_WRITE_FAILED once a background fsync has failed. After a failed fsync Linux may
   * have dropped the dirty pages, so nothing committed since can be trusted to reach the disk:
   * the log fails closed rather than keep promising durability it does not have.
   */
  verifyHealthy(): void;
  /** Fsyncs what is pending now, synchronously, and releases the file. */
  close(): void;
}

export interface WalSyncerOptions {
  /** The longest a commit waits for its fsync. */
  readonly intervalMs: number;
}

/** Starts a syncer for the WAL of the database at `databasePath` (SQLite's `<path>-wal`). */
export function startWalSyncer(databasePath: string, options: WalSyncerOptions): WalSyncer {
  const walPath = `${databasePath}-wal`;
  let fd: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let dirty = false;
  let syncing = false;
  let closed = false;
  let failure: unknown;

  const fail = (error: unknown): void => {
    failure ??= error;
  };

  // Opened on the first sync, when SQLite has certainly created the file. O_NOFOLLOW: a symlink
  // planted in its place is refused, as prepareAuditFile refuses one before SQLite opens it.
  // The directory is fsynced once too, so the WAL file's own entry survives a power loss.
  const walFd = (): number => {
    if (fd !== undefined) return fd;
    fd = openSync(walPath, constants.O_RDONLY | constants.O_NOFOLLOW);
    const dir = openSync(dirname(walPath), constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    return fd;
  };

  const tick = (): void => {
    timer = undefined;
    if (!dirty || closed || failure !== undefined) return;
    dirty = false;
    let handle: number;
    try {
      handle = walFd();
    } catch (error) {
      fail(error);
      return;
    }
    syncing = true;
    // On libuv's thread pool: the main thread goes on serving calls while the disk works.
    fsync(handle, (error) => {
      syncing = false;
      if (error !== null) fail(error);
      if (closed) {
        closeSync(handle);
        fd = undefined;
      } else if (dirty) arm();
    });
  };

  const arm = (): void => {
    timer = setTimeout(tick, options.intervalMs);
    // A pending fsync must not keep a process alive that has nothing else to do; close() syncs.
    timer.unref();
  };

  return {
    committed() {
      dirty = true;
      if (timer === undefined && !syncing && !closed) arm();
    },
    verifyHealthy() {
      if (failure === undefined) return;
      throw new CarapaceError('AUDIT_WRITE_FAILED', `the audit log's WAL ${walPath} could not be fsynced; no further record is accepted`, {
        cause: failure,
      });
    },
    close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      try {
        if (dirty && failure === undefined) fsyncSync(walFd());
      } finally {
        // An fsync still running on the thread pool closes the descriptor itself when it ends.
        if (fd !== undefined && !syncing) {
          closeSync(fd);
          fd = undefined;
        }
      }
    },
  };
}
