import { chmod, lstat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureCarapaceHome, type HomeLayout } from '../config/carapace-home.js';
import { ImageBuildMemo, imageBuildMemoFile } from './image-build-memo.js';

const KEY_A = 'a'.repeat(64);
const KEY_B = 'b'.repeat(64);

let home: string;
let layout: HomeLayout;
let file: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'carapace-build-memo-'));
  layout = await ensureCarapaceHome(join(home, 'home'));
  file = imageBuildMemoFile(layout);
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('ImageBuildMemo', () => {
  it('keeps what it learned in an owner-only file under the home trust folder, for the next process', async () => {
    const memo = await ImageBuildMemo.open(file);
    memo.remember(KEY_A, 'value a');
    await memo.save();
    expect(file.startsWith(layout.trustDir)).toBe(true);
    expect((await lstat(file)).mode & 0o777).toBe(0o600);
    expect((await ImageBuildMemo.open(file)).recall(KEY_A)).toBe('value a');
  });

  it('writes nothing when nothing new was learned', async () => {
    const memo = await ImageBuildMemo.open(file);
    await memo.save();
    await expect(lstat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('ignores a corrupt file, and rewrites it whole at the next save', async () => {
    for (const corrupt of ['{"version":1,"entries":[{"key":"short","value":"x"}]}', 'not json', '{"version":2,"entries":[]}']) {
      await writeFile(file, corrupt, { mode: 0o600 });
      const memo = await ImageBuildMemo.open(file);
      expect(memo.recall('short')).toBeUndefined();
      memo.remember(KEY_A, 'fresh');
      await memo.save();
      expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ version: 1, entries: [{ key: KEY_A, value: 'fresh' }] });
    }
  });

  it('merges with what another memo saved meanwhile (echo and memory build in parallel)', async () => {
    const [echo, memory] = await Promise.all([ImageBuildMemo.open(file), ImageBuildMemo.open(file)]);
    echo.remember(KEY_A, 'echo');
    memory.remember(KEY_B, 'memory');
    await Promise.all([echo.save(), memory.save()]);
    const reopened = await ImageBuildMemo.open(file);
    expect([reopened.recall(KEY_A), reopened.recall(KEY_B)]).toEqual(['echo', 'memory']);
  });

  it('learns through learnOnly without recalling anything', async () => {
    const memo = await ImageBuildMemo.open(file);
    memo.remember(KEY_A, 'known');
    expect(memo.learnOnly.recall(KEY_A)).toBeUndefined();
    memo.learnOnly.remember(KEY_B, 'learned');
    expect(memo.recall(KEY_B)).toBe('learned');
  });

  it('refuses a file others can write with HOME_INSECURE, as every trust file', async () => {
    await writeFile(file, '{"version":1,"entries":[]}', { mode: 0o600 });
    await chmod(file, 0o666);
    await expect(ImageBuildMemo.open(file)).rejects.toMatchObject({ code: 'HOME_INSECURE' });
  });
});
