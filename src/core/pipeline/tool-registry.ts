import { CarapaceError } from '../../errors.js';
import type { ManifestTool, PluginManifest } from '../../wire/manifest.js';
import { toTopic } from '../../wire/names.js';
import type { Envelope } from './envelope.js';

/** A tool the core can route to, under the topic it is called by. */
export interface RegisteredTool {
  /** `plugin.tool`. */
  readonly topic: string;
  /** The plugin that declared the tool: the only place a call to it is routed. */
  readonly plugin: string;
  readonly tool: ManifestTool;
}

/** Every declared tool by topic. A Map, so no topic (`__proto__`, `constructor`) can hit a prototype. */
export type ToolRegistry = ReadonlyMap<string, RegisteredTool>;

export interface ToolRegistryBuild {
  readonly registry: ToolRegistry;
  /** Manifests left out, each as a `MANIFEST_INVALID` error; the others still load. */
  readonly rejected: readonly CarapaceError[];
}

/**
 * Indexes the tools of loaded manifests by topic. A second manifest with a name already taken is
 * rejected whole: otherwise a plugin could declare `memory` again and receive calls, and
 * arguments, meant for the real one.
 */
export function toToolRegistry(manifests: readonly PluginManifest[]): ToolRegistryBuild {
  const registry = new Map<string, RegisteredTool>();
  const plugins = new Set<string>();
  const rejected: CarapaceError[] = [];
  for (const manifest of manifests) {
    if (plugins.has(manifest.name)) {
      rejected.push(new CarapaceError('MANIFEST_INVALID', `plugin name "${manifest.name}" is already taken by another plugin`, { details: { plugin: manifest.name } }));
      continue;
    }
    plugins.add(manifest.name);
    for (const tool of manifest.tools) {
      const topic = toTopic(manifest.name, tool.name);
      registry.set(topic, { topic, plugin: manifest.name, tool });
    }
  }
  return { registry, rejected };
}

/** Stage 2: the topic must name a declared tool, else `TOPIC_UNKNOWN`. */
export function resolveTool(envelope: Envelope, registry: ToolRegistry): RegisteredTool {
  const registered = registry.get(envelope.topic);
  if (registered === undefined) {
    throw new CarapaceError('TOPIC_UNKNOWN', `no plugin declares the tool ${envelope.topic}`, { details: { topic: envelope.topic } });
  }
  return registered;
}
