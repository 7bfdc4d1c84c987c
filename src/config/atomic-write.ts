import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * The filesystem steps of an atomic replace, injectable so a test can make any one of them fail and
 * check that nothing was left half-done.
 */
export interface AtomicWriteSteps {
  /** Creates `path` exclusively with `mode`, writes `data` and fsyncs it. */
  writeTemp(path: string, data: string, mode: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Makes the rename durable. */
  syncDirectory(dir: string): Promise<void>;
  remove(path: string): Promise<void>;
}

export const nodeAtomicWriteSteps: AtomicWriteSteps = {
  async writeTemp(path, data, mode) {
    // 'wx' is O_CREAT|O_EXCL: it never opens an existing file, so a planted symlink is not followed.
    const handle = await open(path, 'wx', mode);
    try {
      // The open mode went through the umask; fchmod makes it exact.
      await handle.chmod(mode);
      await handle.writeFile(data, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  rename,
  async syncDirectory(dir) {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  async remove(path) {
    await rm(path, { force: true });
  },
};

/**
 * Replaces `file` with `data` so a reader sees either the old or the new content, never a mix:
 * a temp file in the same directory (same filesystem, so rename is atomic), fsync, rename, fsync dir.
 * If any step before the rename fails, the temp file is removed and `file` is untouched. A failure
 * of the final directory fsync is still reported, although the new content is in place by then.
 */
export async function writeFileAtomic(
  file: string,
  data: string,
  mode: number,
  steps: AtomicWriteSteps = nodeAtomicWriteSteps,
): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await steps.writeTemp(temp, data, mode);
    await steps.rename(temp, file);
  } catch (error) {
    // EEXIST means the name was someone else's file, not ours to delete. A failed cleanup must not
    // hide the failure that caused it, so only the original error is thrown.
    if (!isErrno(error, 'EEXIST')) await steps.remove(temp).catch(() => undefined);
    throw error;
  }
  await steps.syncDirectory(dirname(file));
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
