import { lstat, open, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { CarapaceError, toCarapaceError } from '../errors.js';
import type { CatalogSkill } from '../wire/control.js';
import type { CatalogedPlugin } from './plugin-catalog.js';

/** A skill as the core serves it: its catalog entry and its markdown. */
export interface LoadedSkill extends CatalogSkill {
  readonly text: string;
}

export interface SkillLoad {
  readonly skills: readonly LoadedSkill[];
  /** Skills left out, each with a typed reason; the plugin and its other skills still load. */
  readonly failures: readonly CarapaceError[];
}

/** A skill is read into an agent's context; past this it is a mistake or an attack. */
export const MAX_SKILL_BYTES = 64 * 1024;

/**
 * Reads the skill files a plugin's manifest lists, once, when the core loads the plugin. The
 * files are text shown to agents, so each must be a regular file inside the plugin's folder: a
 * symlink (which could point at a credential) or a path that resolves outside is refused.
 */
export async function loadPluginSkills(plugin: CatalogedPlugin): Promise<SkillLoad> {
  const skills: LoadedSkill[] = [];
  const failures: CarapaceError[] = [];
  const folder = await realpath(plugin.dir);
  for (const path of plugin.manifest.skills) {
    const file = join(plugin.dir, path);
    try {
      const text = await readSkillFile(file, folder);
      skills.push({ plugin: plugin.manifest.name, path, title: titleOf(text, path), text });
    } catch (error) {
      failures.push(toCarapaceError(error, 'MANIFEST_INVALID', `${file}: the skill cannot be read`));
    }
  }
  return { skills, failures };
}

async function readSkillFile(file: string, folder: string): Promise<string> {
  const refuse = (why: string): CarapaceError => new CarapaceError('MANIFEST_INVALID', `${file}: skill ${why}`, { details: { file } });
  const stat = await lstat(file).catch((error: unknown) => {
    throw refuse(`is missing or unreadable (${(error as { code?: string }).code ?? 'error'})`);
  });
  if (!stat.isFile()) throw refuse('is not a regular file (symlinks are refused)');
  if (stat.size > MAX_SKILL_BYTES) throw refuse(`is ${String(stat.size)} bytes, over ${String(MAX_SKILL_BYTES)}`);
  // A parent folder could still be a symlink out of the plugin's folder.
  if (!(await realpath(file)).startsWith(folder + sep)) throw refuse('resolves outside the plugin folder');
  const handle = await open(file, 'r');
  try {
    const bytes = await handle.readFile();
    if (bytes.byteLength > MAX_SKILL_BYTES) throw refuse(`grew over ${String(MAX_SKILL_BYTES)} bytes while read`);
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw error instanceof CarapaceError ? error : refuse('is not UTF-8 text');
  } finally {
    await handle.close();
  }
}

/** The first `# heading`, so a prompt list reads well; the path when there is none. */
function titleOf(text: string, path: string): string {
  const heading = /^#\s+(.+)$/m.exec(text)?.[1]?.trim();
  return heading === undefined || heading === '' ? path : heading.slice(0, 200);
}
