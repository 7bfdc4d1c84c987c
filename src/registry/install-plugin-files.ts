import { randomBytes } from 'node:crypto';
import { lstat, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CarapaceError } from '../errors.js';
import type { CarapaceFiles } from './carapace-files.js';

/** A plugin folder written beside its final place, not yet visible to the catalog. */
export interface StagedPluginFiles {
  /** Moves the staged folder into place (an earlier folder of the same name is kept aside until `commit`). */
  activate(): Promise<void>;
  /** Drops the earlier folder: the new one stays. */
  commit(): Promise<void>;
  /** Puts everything back as it was before `stage`: the earlier folder, or no folder. */
  rollback(): Promise<void>;
}

/**
 * Writes `manifest.json` and the listed skills, exactly as the image carries them, into a hidden
 * folder beside `<pluginsDir>/<name>`. The caller activates it once the image is loaded and its
 * bundle written, and commits once the pin is in the lock, so a failure at any step leaves the
 * catalog with the old plugin or none, never half of one. The skill paths were checked by the
 * manifest parser (relative, no `..`) and are looked up in `files`, never on the host.
 */
export async function stagePluginFiles(pluginsDir: string, name: string, files: CarapaceFiles, skills: readonly string[]): Promise<StagedPluginFiles> {
  const suffix = randomBytes(6).toString('hex');
  const target = join(pluginsDir, name);
  const staged = join(pluginsDir, `.${name}.${suffix}.staged`);
  const previous = join(pluginsDir, `.${name}.${suffix}.previous`);
  await mkdir(pluginsDir, { recursive: true, mode: 0o700 });
  const existing = await lstat(target).catch(() => undefined);
  if (existing !== undefined && (!existing.isDirectory() || existing.isSymbolicLink())) {
    throw new CarapaceError('HOME_INSECURE', `${target} is not a directory`, { details: { path: target } });
  }
  try {
    await mkdir(staged, { mode: 0o700 });
    for (const path of ['manifest.json', ...skills]) {
      const content = files.get(path);
      if (content === undefined) throw new CarapaceError('MANIFEST_INVALID', `the image has no /carapace/${path}`, { details: { path } });
      await mkdir(dirname(join(staged, path)), { recursive: true, mode: 0o700 });
      await writeFile(join(staged, path), content, { mode: 0o600, flag: 'wx' });
    }
  } catch (error) {
    await rm(staged, { recursive: true, force: true });
    throw error;
  }
  let moved = false;
  let activated = false;
  return {
    async activate() {
      if (existing !== undefined) {
        await rename(target, previous);
        moved = true;
      }
      await rename(staged, target);
      activated = true;
    },
    async commit() {
      if (moved) await rm(previous, { recursive: true, force: true });
    },
    async rollback() {
      if (activated) await rm(target, { recursive: true, force: true });
      else await rm(staged, { recursive: true, force: true });
      if (moved) await rename(previous, target);
    },
  };
}
