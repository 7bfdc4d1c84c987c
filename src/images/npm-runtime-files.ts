import { execFile } from 'node:child_process';
import type { Dirent } from 'node:fs';
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { CarapaceError } from '../errors.js';
import type { Observe } from './build-memo.js';

const execFileAsync = promisify(execFile);

/** One file of an npm package as the image holds it: `path` is relative to the package root. */
export type PackageFile =
  | { readonly path: string; readonly hostPath: string }
  | { readonly path: string; readonly content: string };

export interface PackageRuntimeFiles {
  readonly name: string;
  /** The package's real directory on the host (pnpm's node_modules entries are symlinks). */
  readonly dir: string;
  /** Sorted by path. */
  readonly files: readonly PackageFile[];
  /** Host paths of the native addons among `files`, for `ldd`. */
  readonly addons: readonly string[];
}

/**
 * What an npm package needs at run time, for the packages plugin images may carry. Copying whole
 * packages would put compilers' leftovers (better-sqlite3's 20 MB of object files), every other
 * platform's prebuilds and TypeScript sources into every image, so each package says which of its
 * files Node actually loads. A package not listed here cannot go into an image: an unknown package
 * could need files no rule copies, and the image would fail at its first `require`.
 */
interface RuntimePackageRule {
  /** Whether the file at this path (relative to the package root, `/`-separated) is loaded at run time. */
  readonly keep: (path: string) => boolean;
  /** Packages its loaded files require (not its build-time dependencies, such as node-addon-api). */
  readonly dependencies: readonly string[];
  /** Files decided by asking the host's node what it loads, rather than by path. */
  readonly resolveNative?: (dir: string, nodePath: string, observe: Observe) => Promise<PackageFile[]>;
}

const isPackageJson = (path: string): boolean => path === 'package.json';
const isJsUnder = (prefix: string) => (path: string): boolean => path.startsWith(prefix) && path.endsWith('.js');

const RUNTIME_PACKAGES: Readonly<Record<string, RuntimePackageRule>> = {
  zeromq: {
    keep: (path) => isPackageJson(path) || isJsUnder('lib/')(path),
    dependencies: ['cmake-ts'],
    resolveNative: resolveZeromqAddon,
  },
  // zeromq's lib/load-addon.js requires only this file of cmake-ts, through its `exports` map.
  'cmake-ts': { keep: (path) => isPackageJson(path) || path === 'build/loader.js', dependencies: [] },
  'better-sqlite3': {
    keep: (path) => isPackageJson(path) || isJsUnder('lib/')(path) || path === 'build/Release/better_sqlite3.node',
    dependencies: ['bindings'],
  },
  bindings: { keep: (path) => isPackageJson(path) || path === 'bindings.js', dependencies: ['file-uri-to-path'] },
  'file-uri-to-path': { keep: (path) => isPackageJson(path) || path === 'index.js', dependencies: [] },
  // ESM build only; the nested package.json files carry the subpaths' module type.
  zod: {
    keep: (path) => path === 'package.json' || path.endsWith('/package.json') || (path.endsWith('.js') && !path.startsWith('src/')),
    dependencies: [],
  },
};

/** The packages `collectRuntimePackages` knows how to copy. */
export const RUNTIME_PACKAGE_NAMES: readonly string[] = Object.keys(RUNTIME_PACKAGES).sort();

export interface CollectPackagesOptions {
  /** Directory Node's lookup starts from (`<dir>/node_modules`, then each parent's). */
  readonly searchFrom: string;
  /** The node that will run them; it decides which prebuilt addon loads. */
  readonly nodePath: string;
  /** Told every directory listed and every file the choice of files depends on (see build-memo.ts). */
  readonly observe?: Observe;
}

/**
 * The runtime files of `names` and of everything they load, each package found the way Node finds
 * it (the nearest `node_modules/<name>` up from the requiring package) and read from its real path.
 * Sorted by package name; throws IMAGE_BUILD_FAILED for a package with no rule or not installed.
 */
export async function collectRuntimePackages(names: readonly string[], options: CollectPackagesOptions): Promise<PackageRuntimeFiles[]> {
  const observe = options.observe ?? (() => undefined);
  const collected = new Map<string, PackageRuntimeFiles>();
  const pending: Array<{ name: string; from: string }> = names.map((name) => ({ name, from: options.searchFrom }));
  for (let next = pending.shift(); next !== undefined; next = pending.shift()) {
    const { name, from } = next;
    if (collected.has(name)) continue;
    // Own keys only: a package called "constructor" must not find Object's.
    const rule = Object.hasOwn(RUNTIME_PACKAGES, name) ? RUNTIME_PACKAGES[name] : undefined;
    if (rule === undefined) {
      throw new CarapaceError('IMAGE_BUILD_FAILED', `package ${JSON.stringify(name)} has no runtime file list; known: ${RUNTIME_PACKAGE_NAMES.join(', ')}`, {
        details: { package: name },
      });
    }
    const dir = await findPackageDir(name, from, observe);
    const kept: PackageFile[] = (await listFiles(dir, observe)).filter(rule.keep).map((path) => ({ path, hostPath: join(dir, ...path.split('/')) }));
    const native = rule.resolveNative === undefined ? [] : await rule.resolveNative(dir, options.nodePath, observe);
    const byPath = new Map<string, PackageFile>(kept.map((file) => [file.path, file]));
    for (const file of native) byPath.set(file.path, file);
    const files = [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const addons = files.flatMap((file) => (file.path.endsWith('.node') && 'hostPath' in file ? [file.hostPath] : []));
    collected.set(name, { name, dir, files, addons });
    for (const dependency of rule.dependencies) pending.push({ name: dependency, from: dir });
  }
  return [...collected.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Node's package lookup: `node_modules/<name>` in `from`, then in each parent, resolved to its real
 * path. Each node_modules looked in is observed: a package appearing in, or re-linked from, one of
 * them changes its list of entries.
 */
export async function findPackageDir(name: string, from: string, observe: Observe = () => undefined): Promise<string> {
  for (let dir = from; ; dir = dirname(dir)) {
    observe(join(dir, 'node_modules'));
    const candidate = join(dir, 'node_modules', name);
    try {
      if ((await stat(join(candidate, 'package.json'))).isFile()) return await realpath(candidate);
    } catch {
      // Not installed at this level; Node looks one directory up, and so do we.
    }
    if (dirname(dir) === dir) break;
  }
  throw new CarapaceError('IMAGE_BUILD_FAILED', `package ${name} is not installed under ${from} or any parent`, { details: { package: name, from } });
}

/**
 * Every regular file under `dir`, relative and `/`-separated, sorted; nested node_modules and
 * symlinks are left out. `dir` and every directory listed under it are observed.
 */
async function listFiles(dir: string, observe: Observe): Promise<string[]> {
  observe(dir);
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const inPackage = (path: string): boolean => !path.split('/').includes('node_modules');
  const relativePath = (entry: Dirent): string => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/');
  for (const entry of entries) {
    if (entry.isDirectory() && inPackage(relativePath(entry))) observe(join(entry.parentPath, entry.name));
  }
  return entries
    .filter((entry) => entry.isFile())
    .map(relativePath)
    .filter(inPackage)
    .sort();
}

/**
 * zeromq ships prebuilt addons for many platforms and Node ABIs, and cmake-ts's loader picks one at
 * run time from build/manifest.json: the newest ABI whose os, arch and libc match that loads. Rather
 * than re-implement that choice, the host's node (the same binary the image runs) loads zeromq in a
 * child process and reports the addon it got. The image carries that addon and a manifest listing
 * only it, so the loader in the container makes the same choice without trying absent files.
 */
async function resolveZeromqAddon(dir: string, nodePath: string, observe: Observe): Promise<PackageFile[]> {
  // What the loader's choice depends on: the node binary (ABI, platform, libc) and the addons the
  // build manifest lists, as read by load-addon.js.
  for (const input of [nodePath, join(dir, 'build', 'manifest.json'), join(dir, 'lib', 'load-addon.js')]) observe(input);
  const probe = "require(process.argv[1]); process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((f) => f.endsWith('.node'))));";
  let loaded: unknown;
  try {
    const { stdout } = await execFileAsync(nodePath, ['-e', probe, join(dir, 'lib', 'load-addon.js')], { timeout: 30_000, env: {} });
    loaded = JSON.parse(stdout);
  } catch (error) {
    throw new CarapaceError('IMAGE_BUILD_FAILED', `cannot find which zeromq addon ${nodePath} loads`, { cause: error, details: { package: 'zeromq' } });
  }
  const buildDir = join(dir, 'build');
  const addon = Array.isArray(loaded) && loaded.length === 1 && typeof loaded[0] === 'string' ? loaded[0] : undefined;
  const addonPath = addon === undefined ? undefined : relative(buildDir, addon).split(sep).join('/');
  if (addon === undefined || addonPath === undefined || addonPath.startsWith('..')) {
    throw new CarapaceError('IMAGE_BUILD_FAILED', `zeromq loaded no single addon from ${buildDir}`, { details: { package: 'zeromq', loaded: JSON.stringify(loaded) } });
  }
  const manifest = JSON.parse(await readFile(join(buildDir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  const entries = Object.entries(manifest).filter(([, path]) => path === addonPath);
  return [
    { path: `build/${addonPath}`, hostPath: addon },
    { path: 'build/manifest.json', content: JSON.stringify(Object.fromEntries(entries)) },
  ];
}
