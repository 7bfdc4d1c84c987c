import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BuildMemo } from './build-memo.js';
import { builtinPluginImage } from './builtin-plugins.js';
import type { ImageDefinition } from './image-definition.js';

/** A package root with a compiled-looking dist/ for the echo plugin. */
let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'carapace-builtin-'));
  for (const dir of ['plugins/echo', 'plugin-sdk', 'wire']) await mkdir(join(root, 'dist', dir), { recursive: true });
  for (const file of ['plugins/echo/main.js', 'plugin-sdk/index.js', 'wire/message.js', 'errors.js']) await writeFile(join(root, 'dist', file), '');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const appFiles = (definition: ImageDefinition): string[] =>
  definition.rootfs.flatMap((entry) => (entry.path.startsWith('/app/') && !entry.path.startsWith('/app/node_modules/') ? [entry.path] : []));

describe('builtinPluginImage with a build memo', () => {
  it('answers from the memo while no listed directory or probed file changed, and resolves again when one did', async () => {
    const entries = new Map<string, string>();
    const memo: BuildMemo = { recall: (key) => entries.get(key), remember: (key, value) => void entries.set(key, value) };
    const first = await builtinPluginImage('echo', { packageRoot: root, memo });
    expect(entries.size).toBe(1);
    const [key] = entries.keys();
    const observed = (JSON.parse(entries.get(key ?? '') ?? '{}') as { observed: [string, string][] }).observed.map(([path]) => path);
    // What the recipe's answer depends on: the listed folders, the packages' folders, the probes' inputs.
    expect(observed).toEqual(expect.arrayContaining([join(root, 'dist', 'plugins', 'echo'), join(root, 'dist', 'wire'), process.execPath, '/etc/ld.so.cache']));
    expect(observed.some((path) => path.endsWith('/zeromq/build/manifest.json'))).toBe(true);

    // A remembered answer is used as is: plant one the recipe could not give, and get it back.
    const planted = { ...(JSON.parse(entries.get(key ?? '') ?? '{}') as object), value: { name: 'localhost/planted', config: { workdir: '/', path: '/bin', cmd: ['x'] }, rootfs: [] } };
    entries.set(key ?? '', JSON.stringify(planted));
    expect(await builtinPluginImage('echo', { packageRoot: root, memo })).toMatchObject({ name: 'localhost/planted' });

    await writeFile(join(root, 'dist', 'plugins', 'echo', 'added.js'), '');
    const again = await builtinPluginImage('echo', { packageRoot: root, memo });
    expect(appFiles(again).sort()).toEqual([...appFiles(first), '/app/plugins/echo/added.js'].sort());
  });
});
