import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readLogTail } from './read-log-tail.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'carapace-tail-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readLogTail', () => {
  it('returns the last lines of a file larger than one read chunk, oldest first', async () => {
    const file = join(dir, 'big.log');
    const lines = Array.from({ length: 5000 }, (_, index) => `{"n":${index},"pad":"${'é'.repeat(20)}"}`);
    await writeFile(file, `${lines.join('\n')}\n`);
    expect(await readLogTail(file, 3)).toEqual(lines.slice(-3));
    expect(await readLogTail(file, 4000)).toEqual(lines.slice(-4000));
  });

  it('handles short files, a torn last line, zero lines and a missing file', async () => {
    const file = join(dir, 'short.log');
    await writeFile(file, 'a\nb\n{"torn');
    expect(await readLogTail(file, 10)).toEqual(['a', 'b', '{"torn']);
    expect(await readLogTail(file, 0)).toEqual([]);
    expect(await readLogTail(join(dir, 'absent.log'), 5)).toBeUndefined();
  });
});
