import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageDefinition, RootfsEntry } from './image-definition.js';
import { toNormalizedRootfs } from './image-definition.js';
import { NODE_PLUGIN_IMAGE, nodePluginImageDefinition, type NodePluginImageInput } from './node-plugin-image.js';

let dir: string;
let input: NodePluginImageInput;
let definition: ImageDefinition;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'carapace-node-image-'));
  await writeFile(join(dir, 'main.mjs'), "import 'zeromq';\n");
  input = { name: 'localhost/carapace/test-plugin', files: [{ hostPath: join(dir, 'main.mjs'), imagePath: 'main.mjs' }], packages: ['zeromq'], entry: 'main.mjs' };
  definition = await nodePluginImageDefinition(input);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const entryAt = (path: string): RootfsEntry | undefined => definition.rootfs.find((entry) => entry.path === path);

describe('nodePluginImageDefinition', () => {
  it('runs the entry with the copied node, from /app, with nothing but node on PATH', () => {
    expect(definition.config).toMatchObject({ entrypoint: ['/usr/local/bin/node', '/app/main.mjs'], workdir: '/app', path: '/usr/local/bin' });
    expect(definition.config.cmd).toBeUndefined();
    expect(entryAt(NODE_PLUGIN_IMAGE.node)).toMatchObject({ type: 'file', mode: 0o555, source: { hostPath: process.execPath } });
    expect(entryAt('/app/main.mjs')).toMatchObject({ type: 'file', mode: 0o444, source: { hostPath: join(dir, 'main.mjs') } });
  });

  it('holds the loader, the libraries and the packages, and no shell or package manager', () => {
    const paths = definition.rootfs.map((entry) => entry.path);
    expect(paths.some((path) => /\/ld-linux[^/]*\.so\.\d$/.test(path))).toBe(true);
    expect(paths.some((path) => /\/libstdc\+\+\.so\.6$/.test(path))).toBe(true);
    expect(paths).toContain('/app/node_modules/zeromq/lib/index.js');
    expect(paths).toContain('/app/node_modules/cmake-ts/build/loader.js');
    expect(paths.filter((path) => /\/(sh|bash|busybox|npm|npx|pnpm|corepack)$/.test(path))).toEqual([]);
    expect(definition.rootfs.filter((entry) => entry.type === 'symlink')).toEqual([]);
  });

  it('has empty mount points for the socket, storage, tmpfs and the kernel filesystems', () => {
    for (const path of ['/run/carapace', '/data', '/proc', '/sys', '/dev']) expect(entryAt(path)).toMatchObject({ type: 'directory' });
    expect(entryAt('/tmp')).toMatchObject({ type: 'directory', mode: 0o1777 });
    expect(definition.rootfs.some((entry) => entry.path.startsWith('/data/'))).toBe(false);
  });

  it('is a valid image definition', () => {
    expect(() => toNormalizedRootfs(definition)).not.toThrow();
  });

  it('refuses plugin files that would land outside /app or over the packages, and an entry it does not hold', async () => {
    const file = (imagePath: string): NodePluginImageInput => ({ ...input, files: [{ hostPath: join(dir, 'main.mjs'), imagePath }], entry: imagePath });
    for (const imagePath of ['../usr/local/bin/node', '/main.mjs', 'a/../../x.mjs', 'a//b.mjs', './main.mjs', 'node_modules/zeromq/lib/index.js', 'package.json']) {
      await expect(nodePluginImageDefinition(file(imagePath)), imagePath).rejects.toMatchObject({ code: 'IMAGE_BUILD_FAILED' });
    }
    await expect(nodePluginImageDefinition({ ...input, entry: 'other.mjs' })).rejects.toMatchObject({ code: 'IMAGE_BUILD_FAILED' });
  });

  it('places the Carapace manifest and skills under /carapace when given, and refuses skills that would escape it', async () => {
    await writeFile(join(dir, 'manifest.json'), '{}');
    const skills = [{ hostPath: join(dir, 'main.mjs'), imagePath: 'skills/use.md' }];
    const withCarapace = await nodePluginImageDefinition({ ...input, carapace: { manifest: join(dir, 'manifest.json'), skills } });
    const at = (path: string): RootfsEntry | undefined => withCarapace.rootfs.find((entry) => entry.path === path);
    expect(at('/carapace/manifest.json')).toMatchObject({ type: 'file', mode: 0o444, source: { hostPath: join(dir, 'manifest.json') } });
    expect(at('/carapace/skills/use.md')).toMatchObject({ type: 'file', mode: 0o444 });
    expect(() => toNormalizedRootfs(withCarapace)).not.toThrow();
    expect(entryAt('/carapace/manifest.json')).toBeUndefined();
    for (const imagePath of ['../app/main.mjs', '/etc/x.md', 'manifest.json', 'skills//x.md']) {
      const bad = { manifest: join(dir, 'manifest.json'), skills: [{ hostPath: join(dir, 'main.mjs'), imagePath }] };
      await expect(nodePluginImageDefinition({ ...input, carapace: bad }), imagePath).rejects.toMatchObject({ code: 'IMAGE_BUILD_FAILED' });
    }
  });
});
