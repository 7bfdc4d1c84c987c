import type { CatalogSkill, CatalogTool, ToolCatalog } from '../wire/control.js';

/**
 * MCP names for Carapace's tools and skills. Clients put tool names into model APIs that accept
 * only `[A-Za-z0-9_-]`, so `plugin.tool` becomes `plugin__tool`; the map back is kept, never
 * parsed, since plugin and tool names may themselves contain `__`.
 */
export const NAME_SEPARATOR = '__';

export function toolNameOf(tool: Pick<CatalogTool, 'plugin' | 'tool'>): string {
  return `${tool.plugin}${NAME_SEPARATOR}${tool.tool}`;
}

/** `memory` + `skills/notes.md` → `memory__skills_notes`. */
export function promptNameOf(skill: Pick<CatalogSkill, 'plugin' | 'path'>): string {
  return `${skill.plugin}${NAME_SEPARATOR}${skill.path.replace(/\.md$/, '').replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

export function resourceUriOf(skill: Pick<CatalogSkill, 'plugin' | 'path'>): string {
  return `carapace://skills/${skill.plugin}/${skill.path}`;
}

/** The catalog under MCP names. Two entries that would share a name are both left out: neither may shadow the other. */
export interface NamedCatalog {
  readonly tools: ReadonlyMap<string, CatalogTool>;
  readonly prompts: ReadonlyMap<string, CatalogSkill>;
  readonly resources: ReadonlyMap<string, CatalogSkill>;
  /** Names left out because two entries mapped to them. */
  readonly ambiguous: readonly string[];
}

export function nameCatalog(catalog: ToolCatalog): NamedCatalog {
  const ambiguous: string[] = [];
  return {
    tools: uniqueBy(catalog.tools, toolNameOf, ambiguous),
    prompts: uniqueBy(catalog.skills, promptNameOf, ambiguous),
    resources: uniqueBy(catalog.skills, resourceUriOf, ambiguous),
    ambiguous,
  };
}

function uniqueBy<T>(entries: readonly T[], nameOf: (entry: T) => string, ambiguous: string[]): Map<string, T> {
  const named = new Map<string, T>();
  const seen = new Set<string>();
  for (const entry of entries) {
    const name = nameOf(entry);
    if (seen.has(name)) {
      named.delete(name);
      if (!ambiguous.includes(name)) ambiguous.push(name);
    } else {
      seen.add(name);
      named.set(name, entry);
    }
  }
  return named;
}
