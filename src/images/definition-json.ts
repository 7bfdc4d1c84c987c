import type { ImageConfig, ImageDefinition, RootfsEntry } from './image-definition.js';

/**
 * An ImageDefinition as JSON, for the build memo. Inline content is kept as text or base64; host
 * files as their paths (the memo's callers fingerprint them again before any use).
 */
export function toDefinitionJson(definition: ImageDefinition): unknown {
  return {
    name: definition.name,
    config: definition.config,
    rootfs: definition.rootfs.map((entry) => {
      if (entry.type !== 'file' || 'hostPath' in entry.source) return entry;
      const { content } = entry.source;
      return { ...entry, source: typeof content === 'string' ? { content } : { base64: Buffer.from(content).toString('base64') } };
    }),
  };
}

/**
 * The definition `toDefinitionJson` wrote, or undefined when `json` is not exactly that shape. Only
 * the shape is checked here; composing it checks it as any definition (toNormalizedRootfs).
 */
export function parseDefinitionJson(json: unknown): ImageDefinition | undefined {
  if (!isRecord(json) || typeof json['name'] !== 'string' || !Array.isArray(json['rootfs'])) return undefined;
  const config = toConfig(json['config']);
  const rootfs: RootfsEntry[] = [];
  for (const value of json['rootfs'] as unknown[]) {
    const entry = toEntry(value);
    if (entry === undefined) return undefined;
    rootfs.push(entry);
  }
  return config === undefined ? undefined : { name: json['name'], rootfs, config };
}

function toEntry(value: unknown): RootfsEntry | undefined {
  if (!isRecord(value) || typeof value['path'] !== 'string') return undefined;
  const { type, path, mode, target, source } = value;
  if (type === 'symlink') return typeof target === 'string' ? { type, path, target } : undefined;
  if (typeof mode !== 'number') return undefined;
  if (type === 'directory') return { type, path, mode };
  if (type !== 'file' || !isRecord(source)) return undefined;
  if (typeof source['hostPath'] === 'string') return { type, path, mode, source: { hostPath: source['hostPath'] } };
  if (typeof source['content'] === 'string') return { type, path, mode, source: { content: source['content'] } };
  if (typeof source['base64'] === 'string') return { type, path, mode, source: { content: Buffer.from(source['base64'], 'base64') } };
  return undefined;
}

function toConfig(value: unknown): ImageConfig | undefined {
  if (!isRecord(value) || typeof value['workdir'] !== 'string' || typeof value['path'] !== 'string') return undefined;
  const { entrypoint, cmd, labels } = value;
  if (entrypoint !== undefined && !isStrings(entrypoint)) return undefined;
  if (cmd !== undefined && !isStrings(cmd)) return undefined;
  if (labels !== undefined && !(isRecord(labels) && Object.values(labels).every((label) => typeof label === 'string'))) return undefined;
  return {
    workdir: value['workdir'],
    path: value['path'],
    ...(entrypoint === undefined ? {} : { entrypoint }),
    ...(cmd === undefined ? {} : { cmd }),
    ...(labels === undefined ? {} : { labels: labels as Record<string, string> }),
  };
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
