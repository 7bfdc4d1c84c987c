import type { CatalogTool, ToolCatalog } from '../wire/control.js';
import { toTopic } from '../wire/names.js';
import type { CatalogedPlugin } from './plugin-catalog.js';
import type { LoadedSkill } from './plugin-skills.js';

/**
 * What agents are offered: the tools and skills of the plugins that passed the start gate and are
 * running at this moment. A stopped or crashed plugin drops out of the next catalog.
 */
export class RunningCatalog {
  private readonly skills = new Map<string, LoadedSkill>();

  constructor(
    private readonly plugins: readonly CatalogedPlugin[],
    skills: readonly LoadedSkill[],
    private readonly isRunning: (plugin: string) => boolean,
  ) {
    for (const skill of skills) this.skills.set(skillKey(skill.plugin, skill.path), skill);
  }

  catalog(): ToolCatalog {
    const running = this.plugins.filter((plugin) => this.isRunning(plugin.manifest.name));
    const tools = running.flatMap(({ manifest }) =>
      manifest.tools.map(
        (tool): CatalogTool => ({
          plugin: manifest.name,
          tool: tool.name,
          topic: toTopic(manifest.name, tool.name),
          description: tool.description,
          risk: tool.risk,
          arguments: tool.arguments,
        }),
      ),
    );
    const names = new Set(running.map((plugin) => plugin.manifest.name));
    const skills = [...this.skills.values()].filter((skill) => names.has(skill.plugin)).map(({ plugin, path, title }) => ({ plugin, path, title }));
    return { tools, skills };
  }

  /** A running plugin's skill text; `undefined` for an unknown skill or a plugin that is not running. */
  skill(plugin: string, path: string): string | undefined {
    return this.isRunning(plugin) ? this.skills.get(skillKey(plugin, path))?.text : undefined;
  }
}

// A Map key no plugin name or skill path can forge: names have no NUL.
const skillKey = (plugin: string, path: string): string => `${plugin}\u0000${path}`;
