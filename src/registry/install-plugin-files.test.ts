import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stagePluginFiles } from './install-plugin-files.js';

let plugins: string;
beforeEach(async () => {
  plugins = join(await mkdtemp(join(tmpdir(), 'carapace-install-')), 'plugins');
});
afterEach(async () => {
  await rm(join(plugins, '..'), { recursive: true, force: true });
});

const files = (marker: string): Map<string, Buffer> =>
  new Map([
    ['manifest.json', Buffer.from(`{"v":"${marker}"}`)],
    ['skills/a.md', Buffer.from(`# ${marker}`)],
    ['skills/unlisted.md', Buffer.from('not installed')],
  ]);

async function existingPlugin(): Promise<void> {
  await mkdir(join(plugins, 'p'), { recursive: true });
  await writeFile(join(plugins, 'p', 'manifest.json'), 'old');
}

describe('stagePluginFiles', () => {
  it('installs the manifest and the listed skills only, and replaces an earlier folder on commit', async () => {
    await existingPlugin();
    const staged = await stagePluginFiles(plugins, 'p', files('new'), ['skills/a.md']);
    expect(await readFile(join(plugins, 'p', 'manifest.json'), 'utf8')).toBe('old');
    await staged.activate();
    await staged.commit();
    expect(await readdir(plugins)).toEqual(['p']);
    expect(await readFile(join(plugins, 'p', 'manifest.json'), 'utf8')).toBe('{"v":"new"}');
    expect(await readdir(join(plugins, 'p', 'skills'))).toEqual(['a.md']);
  });

  it('rolls back to the earlier folder after activation, and to no folder at all without one', async () => {
    await existingPlugin();
    const replacing = await stagePluginFiles(plugins, 'p', files('new'), ['skills/a.md']);
    await replacing.activate();
    await replacing.rollback();
    expect(await readdir(plugins)).toEqual(['p']);
    expect(await readFile(join(plugins, 'p', 'manifest.json'), 'utf8')).toBe('old');

    const fresh = await stagePluginFiles(plugins, 'q', files('new'), []);
    await fresh.rollback();
    expect(await readdir(plugins)).toEqual(['p']);
  });

  it('writes nothing when a listed skill is missing from the image, and refuses a symlink in place of the folder', async () => {
    await expect(stagePluginFiles(plugins, 'p', files('x'), ['skills/missing.md'])).rejects.toMatchObject({ code: 'MANIFEST_INVALID' });
    expect(await readdir(plugins)).toEqual([]);
    await symlink('/etc', join(plugins, 'p'));
    await expect(stagePluginFiles(plugins, 'p', files('x'), [])).rejects.toMatchObject({ code: 'HOME_INSECURE' });
  });
});
