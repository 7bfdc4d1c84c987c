import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { CarapaceError } from '../errors.js';
import { memoKey, recallOrDerive, type BuildMemo, type Observe } from './build-memo.js';
import { parseDefinitionJson, toDefinitionJson } from './definition-json.js';
import type { ImageDefinition } from './image-definition.js';
import { nodePluginImageDefinition, type PluginFile } from './node-plugin-image.js';
import { PACKAGE_ROOT } from './package-root.js';

/**
 * The plugins that ship with Carapace. Their manifests and skills are in `plugins/<name>/` (next
 * to package.json, and in the packed release); their code is compiled into `dist/plugins/<name>/`
 * and their images are built from it on the user's machine, never pulled.
 */
export const BUILTIN_PLUGINS = {
  echo: { image: 'localhost/carapace/plugin-echo', packages: ['zeromq', 'zod'] },
  memory: { image: 'localhost/carapace/plugin-memory', packages: ['zeromq', 'zod', 'better-sqlite3'] },
} as const satisfies Record<string, { image: string; packages: readonly string[] }>;

export type BuiltinPluginName = keyof typeof BUILTIN_PLUGINS;

export const BUILTIN_PLUGIN_NAMES = Object.keys(BUILTIN_PLUGINS).sort() as BuiltinPluginName[];

export function isBuiltinPlugin(name: string): name is BuiltinPluginName {
  return Object.hasOwn(BUILTIN_PLUGINS, name);
}

/** The folder holding one subfolder (manifest.json, skills/) per built-in plugin. */
export function builtinPluginsDir(packageRoot: string = PACKAGE_ROOT): string {
  return join(packageRoot, 'plugins');
}

export interface BuiltinPluginImageOptions {
  /** Where `dist/` is; defaults to Carapace's package root. */
  readonly packageRoot?: string;
  /** The node binary to copy; defaults to the running one. */
  readonly nodePath?: string;
  /**
   * Remembers how the recipe resolved (which files, which addon, which libraries) with the
   * fingerprints of every directory listed and file consulted to decide it; while none of them
   * changes, the next call answers from the memo instead of listing packages and running probes.
   */
  readonly memo?: BuildMemo;
}

/**
 * The image definition of a built-in plugin: its compiled code and the layers it imports (the SDK,
 * `wire/`, `errors.js`, and the shared helpers in `plugins/`), laid out under /app as in `dist/`,
 * so the compiled relative imports resolve unchanged. Pass it to `ensureImage`, and run the pinned
 * reference that returns; the manifest's `image` names only the repository. A name that is not a
 * built-in plugin fails with IMAGE_BUILD_FAILED.
 */
export async function builtinPluginImage(name: string, options: BuiltinPluginImageOptions = {}): Promise<ImageDefinition> {
  if (!isBuiltinPlugin(name)) throw new CarapaceError('IMAGE_BUILD_FAILED', `${JSON.stringify(name)} is not a built-in plugin`);
  const distDir = join(options.packageRoot ?? PACKAGE_ROOT, 'dist');
  const nodePath = options.nodePath ?? process.execPath;
  // The loader's environment steers ldd's answers and is no file to observe, so it is in the key.
  const loaderEnv = ['LD_LIBRARY_PATH', 'LD_PRELOAD'].map((variable) => process.env[variable] ?? '');
  return recallOrDerive(options.memo, {
    key: memoKey('builtin-plugin-image/1', [name, distDir, nodePath, ...loaderEnv]),
    derive: (observe) => deriveBuiltinPluginImage(name, distDir, nodePath, observe),
    encode: toDefinitionJson,
    decode: parseDefinitionJson,
  });
}

async function deriveBuiltinPluginImage(name: BuiltinPluginName, distDir: string, nodePath: string, observe: Observe): Promise<ImageDefinition> {
  const plugin = BUILTIN_PLUGINS[name];
  const files = [
    ...(await jsFiles(distDir, join('plugins', name), true, observe)),
    ...(await jsFiles(distDir, 'plugins', false, observe)),
    ...(await jsFiles(distDir, 'plugin-sdk', true, observe)),
    ...(await jsFiles(distDir, 'wire', true, observe)),
    ...(await jsFiles(distDir, '.', false, observe)).filter((file) => file.imagePath === 'errors.js'),
  ];
  const entry = `plugins/${name}/main.js`;
  if (!files.some((file) => file.imagePath === entry)) {
    throw new CarapaceError('IMAGE_BUILD_FAILED', `built-in plugin ${name} is not compiled: ${join(distDir, entry)} is missing (run pnpm build)`, {
      details: { plugin: name },
    });
  }
  return nodePluginImageDefinition({
    name: plugin.image,
    files,
    packages: plugin.packages,
    entry,
    labels: { 'org.opencontainers.image.title': `carapace-plugin-${name}` },
    nodePath,
    observe,
  });
}

/**
 * The compiled JavaScript under `dist/<dir>`: no source maps, declarations or tests, which the
 * running plugin never loads. A missing folder is an unbuilt tree, reported as such. Every
 * directory listed is observed.
 */
async function jsFiles(distDir: string, dir: string, recursive: boolean, observe: Observe): Promise<PluginFile[]> {
  const root = join(distDir, dir);
  observe(root);
  let entries;
  try {
    entries = await readdir(root, { recursive, withFileTypes: true });
  } catch (error) {
    throw new CarapaceError('IMAGE_BUILD_FAILED', `cannot read ${root} (run pnpm build)`, { cause: error, details: { path: root } });
  }
  if (recursive) for (const entry of entries) if (entry.isDirectory()) observe(join(entry.parentPath, entry.name));
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.js') && !entry.name.endsWith('.test.js'))
    .map((entry) => {
      const hostPath = join(entry.parentPath, entry.name);
      return { hostPath, imagePath: relative(distDir, hostPath).split(sep).join('/') };
    })
    .sort((a, b) => (a.imagePath < b.imagePath ? -1 : a.imagePath > b.imagePath ? 1 : 0));
}
