import { lstat, mkdtemp, readFile, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CarapaceError } from '../errors.js';
import { writeStreamAtomic } from './write-stream-atomic.js';

const scratch = async (): Promise<string> => mkdtemp(join(tmpdir(), 'carapace-atomic-'));

describe('writeStreamAtomic', () => {
  it('writes what was streamed with exactly the mode asked for, whatever the umask', async () => {
    const dir = await scratch();
    const file = join(dir, 'out.jsonl');
    const previous = process.umask(0o000);
    try {
      const result = await writeStreamAtomic(file, 0o600, async (stream) => {
        stream.write('one\n');
        stream.write('two\n');
        return 2;
      });
      expect(result).toBe(2);
    } finally {
      process.umask(previous);
    }
    expect(await readFile(file, 'utf8')).toBe('one\ntwo\n');
    expect((await lstat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['out.jsonl']);
  });

  it('replaces a symlink at the target instead of writing through it', async () => {
    const dir = await scratch();
    const victim = join(dir, 'victim');
    await writeFile(victim, 'keep me');
    const file = join(dir, 'out.jsonl');
    await symlink(victim, file);
    await writeStreamAtomic(file, 0o600, async (stream) => void stream.write('new\n'));
    expect((await lstat(file)).isSymbolicLink()).toBe(false);
    expect(await readFile(victim, 'utf8')).toBe('keep me');
    await expect(readlink(file)).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('leaves the old file and no temp file behind when the producer fails half-way', async () => {
    const dir = await scratch();
    const file = join(dir, 'out.jsonl');
    await writeFile(file, 'previous export\n');
    const failing = writeStreamAtomic(file, 0o600, async (stream) => {
      stream.write('partial\n');
      throw new CarapaceError('AUDIT_UNAVAILABLE', 'the log went away');
    });
    await expect(failing).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
    expect(await readFile(file, 'utf8')).toBe('previous export\n');
    expect(await readdir(dir)).toEqual(['out.jsonl']);

    await expect(writeStreamAtomic(file, 0o600, () => Promise.reject(new Error('disk full')))).rejects.toMatchObject({
      code: 'CLI_OUTPUT_FAILED',
    });
    expect(await readdir(dir)).toEqual(['out.jsonl']);
  });

  it('reports a directory that does not exist as CLI_OUTPUT_FAILED', async () => {
    const file = join(await scratch(), 'missing', 'out.jsonl');
    await expect(writeStreamAtomic(file, 0o600, async () => 0)).rejects.toMatchObject({ code: 'CLI_OUTPUT_FAILED' });
  });
});
