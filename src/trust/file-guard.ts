import { constants } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { CarapaceError } from '../errors.js';

const queues = new Map<string, Promise<unknown>>();
const GUARD_WAIT_MS = 10_000;
const GUARD_STALE_MS = 30_000;

/**
 * Runs `body` (a read-modify-write of `file`) while no other writer of `file` runs it: callers in
 * this process queue; other processes meet at an O_EXCL guard file (`<file>.guard`). Without it two
 * writers (a core pinning a built-in, `plugin add`, `trust revoke`) would each write back what they
 * read, and one would silently drop the other's change; for the revocation list that would be an
 * un-revocation. A crashed writer's guard is taken over after GUARD_STALE_MS.
 */
export async function withFileGuard<T>(file: string, body: () => Promise<T>): Promise<T> {
  const previous = queues.get(file) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => withGuardFile(`${file}.guard`, body));
  queues.set(file, run);
  try {
    return await run;
  } finally {
    if (queues.get(file) === run) queues.delete(file);
  }
}

async function withGuardFile<T>(guard: string, body: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + GUARD_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(guard, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600);
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new CarapaceError('HOME_UNAVAILABLE', `cannot take ${guard}: ${error instanceof Error ? error.message : String(error)}`, { cause: error, details: { file: guard } });
      }
      if (await isStale(guard)) await rm(guard, { force: true });
      else if (Date.now() > deadline) throw new CarapaceError('HOME_UNAVAILABLE', `${guard} is held by another writer`, { details: { file: guard } });
      else await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  try {
    return await body();
  } finally {
    await rm(guard, { force: true });
  }
}

async function isStale(guard: string): Promise<boolean> {
  try {
    return Date.now() - (await stat(guard)).mtimeMs > GUARD_STALE_MS;
  } catch (error) {
    // Gone between the failed open and here: the next attempt takes it.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new CarapaceError('HOME_UNAVAILABLE', `cannot inspect ${guard}`, { cause: error, details: { file: guard } });
  }
}
