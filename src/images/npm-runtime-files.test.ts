import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectRuntimePackages, findPackageDir, type PackageRuntimeFiles } from './npm-runtime-files.js';
import { PACKAGE_ROOT } from './package-root.js';

const options = { searchFrom: PACKAGE_ROOT, nodePath: process.execPath };

function byName(packages: readonly PackageRuntimeFiles[], name: string): PackageRuntimeFiles {
  const found = packages.find((pkg) => pkg.name === name);
  if (found === undefined) throw new Error(`${name} not collected`);
  return found;
}

const paths = (pkg: PackageRuntimeFiles): string[] => pkg.files.map((file) => file.path);

describe('collectRuntimePackages', () => {
  it("brings zeromq's lib, cmake-ts's loader and exactly the addon the host's node loads, with a manifest naming only it", async () => {
    const packages = await collectRuntimePackages(['zeromq'], options);
    expect(packages.map((pkg) => pkg.name)).toEqual(['cmake-ts', 'zeromq']);
    expect(paths(byName(packages, 'cmake-ts'))).toEqual(['build/loader.js', 'package.json']);
    const zeromq = byName(packages, 'zeromq');
    expect(zeromq.addons).toHaveLength(1);
    const addons = paths(zeromq).filter((path) => path.endsWith('.node'));
    expect(addons).toEqual([expect.stringMatching(/^build\/linux\/[^/]+\/node\/[^/]+\/addon\.node$/)]);
    expect(paths(zeromq)).toContain('lib/index.js');
    expect(paths(zeromq).every((path) => path === 'package.json' || path.startsWith('lib/') || path.startsWith('build/'))).toBe(true);
    const manifest = zeromq.files.find((file) => file.path === 'build/manifest.json');
    expect(manifest !== undefined && 'content' in manifest ? Object.values(JSON.parse(manifest.content) as object) : []).toEqual([addons[0]?.slice('build/'.length)]);
  });

  it("brings better-sqlite3's lib and addon (not its build leftovers) with bindings and file-uri-to-path", async () => {
    const packages = await collectRuntimePackages(['better-sqlite3'], options);
    expect(packages.map((pkg) => pkg.name)).toEqual(['better-sqlite3', 'bindings', 'file-uri-to-path']);
    const sqlite = byName(packages, 'better-sqlite3');
    expect(paths(sqlite).filter((path) => !path.startsWith('lib/'))).toEqual(['build/Release/better_sqlite3.node', 'package.json']);
    expect(sqlite.addons).toEqual([join(sqlite.dir, 'build', 'Release', 'better_sqlite3.node')]);
    expect(paths(byName(packages, 'bindings'))).toEqual(['bindings.js', 'package.json']);
  });

  it("reads each package from its real path, not pnpm's symlink", async () => {
    const [zod] = await collectRuntimePackages(['zod'], options);
    expect(zod?.dir).toContain(`${join('node_modules', '.pnpm')}`);
    const pkg = JSON.parse(await readFile(join(zod?.dir ?? '', 'package.json'), 'utf8')) as { name: string };
    expect(pkg.name).toBe('zod');
    expect(paths(zod as PackageRuntimeFiles).some((path) => path.startsWith('src/') || path.endsWith('.d.ts') || path.endsWith('.cjs'))).toBe(false);
  });

  it('refuses a package it has no runtime file list for, including prototype names', async () => {
    for (const name of ['left-pad', 'constructor', '__proto__', '../zod']) {
      await expect(collectRuntimePackages([name], options), name).rejects.toMatchObject({ code: 'IMAGE_BUILD_FAILED' });
    }
  });

  it('fails with IMAGE_BUILD_FAILED when a package is not installed', async () => {
    await expect(findPackageDir('zod', '/')).rejects.toMatchObject({ code: 'IMAGE_BUILD_FAILED' });
  });
});
