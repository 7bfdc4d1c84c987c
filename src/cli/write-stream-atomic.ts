import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import { toCarapaceError } from '../errors.js';

/**
 * Writes what `produce` streams into `file` atomically, with exactly `mode`: a temp file beside it
 * (created with O_EXCL, so a planted symlink is never followed), fsync, rename, fsync the
 * directory. A reader sees the old file or the complete new one; if anything fails before the
 * rename, the temp file is removed and `file` is untouched. Failures are CLI_OUTPUT_FAILED unless
 * `produce` threw a CarapaceError of its own.
 */
export async function writeStreamAtomic<T>(file: string, mode: number, produce: (stream: NodeJS.WritableStream) => Promise<T>): Promise<T> {
  const directory = dirname(file);
  const temp = join(directory, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, 'wx', mode);
  } catch (error) {
    throw toCarapaceError(error, 'CLI_OUTPUT_FAILED', `cannot create ${temp}`);
  }
  let result: T;
  try {
    // The open mode went through the umask; fchmod makes it exact.
    await handle.chmod(mode);
    // From here the stream owns the handle: `flush` fsyncs before it closes the file.
    const stream = handle.createWriteStream({ flush: true });
    handle = undefined;
    try {
      result = await produce(stream);
      stream.end();
      await finished(stream);
    } catch (error) {
      stream.destroy();
      await finished(stream).catch(() => undefined);
      throw error;
    }
    await rename(temp, file);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    // Only the original failure is reported; a failed cleanup must not hide it.
    await rm(temp, { force: true }).catch(() => undefined);
    throw toCarapaceError(error, 'CLI_OUTPUT_FAILED', `cannot write ${file}`);
  }
  await syncDirectory(directory);
  return result;
}

async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw toCarapaceError(error, 'CLI_OUTPUT_FAILED', `${directory}: the new file is in place but the directory could not be synced`);
  }
}
