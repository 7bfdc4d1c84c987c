import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CarapaceError, isCarapaceError, toCarapaceError } from '../errors.js';
import { CONTROL_PLUGIN } from '../wire/control.js';
import { parseJsonText } from '../wire/json.js';
import { parseManifest, type PluginManifest } from '../wire/manifest.js';
import { IDENTIFIER_PATTERN } from '../wire/names.js';

/** Where manifests are looked for: the built-in plugins shipped with Carapace, then the user's. */
export interface PluginSource {
  /** A folder of plugin folders, each holding `manifest.json`. */
  readonly dir: string;
  readonly builtin: boolean;
}

export interface CatalogedPlugin {
  readonly manifest: PluginManifest;
  /** The plugin's folder (skills are relative to it). */
  readonly dir: string;
  readonly builtin: boolean;
}

/** A plugin that could not be loaded, and why; the others load regardless. */
export interface PluginLoadFailure {
  readonly plugin: string;
  readonly dir: string;
  readonly error: CarapaceError;
}

export interface PluginCatalog {
  readonly plugins: readonly CatalogedPlugin[];
  readonly failures: readonly PluginLoadFailure[];
}

export const MANIFEST_FILE = 'manifest.json';
const MAX_MANIFEST_BYTES = 256 * 1024;

/**
 * Reads every `<source>/<plugin>/manifest.json`. A manifest is untrusted input: a bad one (bad
 * JSON, an unknown field, an open argument schema, a name that is not its folder's, a name a
 * built-in already has) becomes a failure with a typed error naming the file, and never stops the
 * other plugins from loading. A missing source folder is simply empty.
 */
export async function loadPluginCatalog(sources: readonly PluginSource[]): Promise<PluginCatalog> {
  const plugins: CatalogedPlugin[] = [];
  const failures: PluginLoadFailure[] = [];
  for (const source of sources) {
    for (const name of await listPluginFolders(source.dir)) {
      const dir = join(source.dir, name);
      try {
        const manifest = await readManifest(dir, name);
        const taken = plugins.find((plugin) => plugin.manifest.name === manifest.name);
        if (taken !== undefined) {
          throw new CarapaceError('MANIFEST_INVALID', `${join(dir, MANIFEST_FILE)}: plugin name "${name}" is already taken by ${taken.dir}`, {
            details: { file: join(dir, MANIFEST_FILE), plugin: name },
          });
        }
        plugins.push({ manifest, dir, builtin: source.builtin });
      } catch (error) {
        failures.push({ plugin: name, dir, error: toCarapaceError(error, 'MANIFEST_INVALID', `${dir}: cannot load the plugin`) });
      }
    }
  }
  return { plugins, failures };
}

async function listPluginFolders(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new CarapaceError('HOME_UNAVAILABLE', `cannot list plugins in ${dir}`, { cause: error, details: { path: dir } });
  }
  return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
}

async function readManifest(dir: string, folderName: string): Promise<PluginManifest> {
  const file = join(dir, MANIFEST_FILE);
  const invalid = (message: string, cause?: unknown): CarapaceError =>
    new CarapaceError('MANIFEST_INVALID', `${file}: ${message}`, { cause, details: { file } });
  if (!IDENTIFIER_PATTERN.test(folderName)) throw invalid(`folder name "${folderName}" is not a plugin name (lowercase identifier)`);
  if (folderName === CONTROL_PLUGIN) throw invalid(`the plugin name "${CONTROL_PLUGIN}" is reserved for the core's own tools`);
  // lstat first: a symlinked manifest could make the core read any file it can.
  const stats = await lstat(file).catch((error: unknown) => {
    throw invalid('cannot read the manifest', error);
  });
  if (!stats.isFile()) throw invalid('is not a regular file');
  if (stats.size > MAX_MANIFEST_BYTES) throw invalid(`is ${String(stats.size)} bytes, more than ${String(MAX_MANIFEST_BYTES)}`);
  let json;
  try {
    json = parseJsonText(await readFile(file, 'utf8'), { maxDepth: 32 });
  } catch (error) {
    throw invalid(isCarapaceError(error) ? error.message : 'cannot read the manifest', error);
  }
  const manifest = parseManifest(json, file);
  if (manifest.name !== folderName) throw invalid(`name "${manifest.name}" does not match its folder "${folderName}"`);
  return manifest;
}
