import { open } from 'node:fs/promises';

const CHUNK_BYTES = 64 * 1024;

/**
 * The last `count` lines of `file`, oldest first, reading backwards from the end so a large log
 * costs about as much as the lines asked for. Undefined when the file does not exist.
 */
export async function readLogTail(file: string, count: number): Promise<string[] | undefined> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if (error instanceof Error && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const chunks: Buffer[] = [];
    let newlines = 0;
    let position = size;
    // One newline more than `count` marks where the first wanted line starts.
    while (position > 0 && newlines <= count) {
      const length = Math.min(CHUNK_BYTES, position);
      position -= length;
      const chunk = Buffer.alloc(length);
      await handle.read(chunk, 0, length, position);
      chunks.unshift(chunk);
      for (const byte of chunk) if (byte === 0x0a) newlines += 1;
    }
    // Splitting whole bytes first keeps a multi-byte character cut by a chunk border intact.
    const lines = Buffer.concat(chunks).toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    if (position > 0) lines.shift();
    return count === 0 ? [] : lines.slice(-count);
  } finally {
    await handle.close();
  }
}
