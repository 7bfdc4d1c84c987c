import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPluginCatalog } from './plugin-catalog.js';

const manifest = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name,
  version: '1.0.0',
  image: `localhost/test/${name}:1`,
  tools: [{ name: 'ping', description: 'answers', risk: 'low', arguments: { type: 'object', properties: {}, additionalProperties: false } }],
  ...extra,
});

async function folderOf(plugins: Record<string, string | Record<string, unknown>>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'carapace-catalog-'));
  for (const [folder, content] of Object.entries(plugins)) {
    await mkdir(join(dir, folder));
    await writeFile(join(dir, folder, 'manifest.json'), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

describe('loadPluginCatalog', () => {
  it('loads good manifests and reports each bad one with MANIFEST_INVALID naming its file, without stopping the others', async () => {
    const dir = await folderOf({
      alpha: manifest('alpha'),
      broken: '{"name": "broken",',
      extra: manifest('extra', { privileged: true }),
      open: manifest('open', { tools: [{ name: 'x', description: 'd', risk: 'low', arguments: { type: 'object' } }] }),
      misnamed: manifest('other'),
      zulu: manifest('zulu'),
    });
    const catalog = await loadPluginCatalog([{ dir, builtin: false }]);
    expect(catalog.plugins.map((plugin) => plugin.manifest.name)).toEqual(['alpha', 'zulu']);
    expect(catalog.failures.map((failure) => [failure.plugin, failure.error.code])).toEqual([
      ['broken', 'MANIFEST_INVALID'],
      ['extra', 'MANIFEST_INVALID'],
      ['misnamed', 'MANIFEST_INVALID'],
      ['open', 'MANIFEST_INVALID'],
    ]);
    for (const failure of catalog.failures) expect(failure.error.message).toContain(join(dir, failure.plugin, 'manifest.json'));
  });

  it('never lets a user plugin take a built-in name', async () => {
    const builtin = await folderOf({ echo: manifest('echo') });
    const user = await folderOf({ echo: manifest('echo'), mine: manifest('mine') });
    const catalog = await loadPluginCatalog([
      { dir: builtin, builtin: true },
      { dir: user, builtin: false },
    ]);
    expect(catalog.plugins.map((plugin) => [plugin.manifest.name, plugin.builtin])).toEqual([
      ['echo', true],
      ['mine', false],
    ]);
    expect(catalog.failures.map((failure) => [failure.plugin, failure.dir, failure.error.code])).toEqual([['echo', join(user, 'echo'), 'MANIFEST_INVALID']]);
  });

  it('never lets a plugin take the name the core serves its own tools under', async () => {
    const dir = await folderOf({ carapace: manifest('carapace'), mine: manifest('mine') });
    const catalog = await loadPluginCatalog([{ dir, builtin: false }]);
    expect(catalog.plugins.map((plugin) => plugin.manifest.name)).toEqual(['mine']);
    expect(catalog.failures.map((failure) => [failure.plugin, failure.error.code])).toEqual([['carapace', 'MANIFEST_INVALID']]);
    expect(catalog.failures[0]?.error.message).toContain('reserved');
  });

  it('refuses a symlinked manifest (it could make the core read any file)', async () => {
    const dir = await folderOf({});
    await mkdir(join(dir, 'linked'));
    await symlink('/etc/passwd', join(dir, 'linked', 'manifest.json'));
    const catalog = await loadPluginCatalog([{ dir, builtin: false }]);
    expect(catalog.plugins).toEqual([]);
    expect(catalog.failures.map((failure) => failure.error.code)).toEqual(['MANIFEST_INVALID']);
  });

  it('treats a missing plugins folder as empty', async () => {
    const catalog = await loadPluginCatalog([{ dir: join(tmpdir(), 'carapace-no-such-folder'), builtin: false }]);
    expect(catalog).toEqual({ plugins: [], failures: [] });
  });
});
