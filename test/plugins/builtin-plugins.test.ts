import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { BUILTIN_PLUGIN_NAMES, BUILTIN_PLUGINS, builtinPluginImage, builtinPluginsDir, isBuiltinPlugin, type BuiltinPluginName } from '../../src/images/builtin-plugins.js';
import type { ImageDefinition } from '../../src/images/image-definition.js';
import { PACKAGE_ROOT } from '../../src/images/package-root.js';
import { ECHO_CREDENTIAL, MAX_ECHO_CHARS, MAX_SLEEP_MS, echoTools } from '../../src/plugins/echo/echo-tools.js';
import { MEMORY_LIMITS, memoryTools } from '../../src/plugins/memory/memory-tools.js';
import { DEFAULT_MAX_BYTES, type NoteStore } from '../../src/plugins/memory/note-store.js';
import { parseJsonText } from '../../src/wire/json.js';
import { parseManifest, type PluginManifest } from '../../src/wire/manifest.js';

/**
 * The built-in plugins as shipped: manifests that parse and agree with the code, skills present,
 * images whose compiled code finds every module it imports, and a packed release carrying them.
 * Needs `pnpm build` (the images are built from dist/).
 */

const execFileAsync = promisify(execFile);

async function manifestOf(name: string): Promise<PluginManifest> {
  const file = join(builtinPluginsDir(), name, 'manifest.json');
  return parseManifest(parseJsonText(await readFile(file, 'utf8'), { maxDepth: 32 }), file);
}

function argumentsOf(manifest: PluginManifest, tool: string): Record<string, Record<string, unknown>> {
  const found = manifest.tools.find((candidate) => candidate.name === tool);
  if (found === undefined) throw new Error(`${manifest.name} has no tool ${tool}`);
  return found.arguments['properties'] as Record<string, Record<string, unknown>>;
}

const fileSource = (definition: ImageDefinition, path: string): string | undefined => {
  const entry = definition.rootfs.find((candidate) => candidate.path === path);
  return entry?.type === 'file' && 'hostPath' in entry.source ? entry.source.hostPath : undefined;
};

/** Follows static and dynamic imports from the entry, as TypeScript's own pre-processor reads them. */
async function importClosure(definition: ImageDefinition, entry: string): Promise<{ missing: string[]; packages: Set<string> }> {
  const missing: string[] = [];
  const packages = new Set<string>();
  const seen = new Set<string>();
  const queue = [entry];
  for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
    if (seen.has(path)) continue;
    seen.add(path);
    const hostPath = fileSource(definition, path);
    if (hostPath === undefined) {
      missing.push(path);
      continue;
    }
    const { importedFiles } = ts.preProcessFile(await readFile(hostPath, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (fileName.startsWith('.')) queue.push(posix.join(posix.dirname(path), fileName));
      else if (!fileName.startsWith('node:') && !builtinModules.includes(fileName)) packages.add(fileName.startsWith('@') ? fileName.split('/').slice(0, 2).join('/') : fileName.split('/')[0] ?? fileName);
    }
  }
  return { missing, packages };
}

describe('built-in plugins', () => {
  it('are echo and memory, each with a manifest named after its folder and an image in its repository', async () => {
    expect(BUILTIN_PLUGIN_NAMES).toEqual(['echo', 'memory']);
    for (const name of BUILTIN_PLUGIN_NAMES) {
      const manifest = await manifestOf(name);
      expect(manifest.name).toBe(name);
      expect(manifest.image).toBe(BUILTIN_PLUGINS[name].image);
      for (const skill of manifest.skills) expect((await stat(join(builtinPluginsDir(), name, skill))).size).toBeGreaterThan(200);
    }
    expect(isBuiltinPlugin('constructor')).toBe(false);
    await expect(builtinPluginImage('constructor')).rejects.toMatchObject({ code: 'IMAGE_BUILD_FAILED' });
  });

  it('declare exactly the tools the code implements, with the limits the code checks', async () => {
    const echo = await manifestOf('echo');
    expect(echo.tools.map((tool) => tool.name).sort()).toEqual(Object.keys(echoTools).sort());
    expect(echo.tools.every((tool) => tool.risk === 'low')).toBe(true);
    expect(echo.credentials).toEqual([ECHO_CREDENTIAL]);
    expect(argumentsOf(echo, 'echo')['text']?.['maxLength']).toBe(MAX_ECHO_CHARS);
    expect(argumentsOf(echo, 'sleep')['ms']?.['maximum']).toBe(MAX_SLEEP_MS);

    const memory = await manifestOf('memory');
    expect(memory.tools.map((tool) => tool.name).sort()).toEqual(Object.keys(memoryTools({} as NoteStore)).sort());
    expect(Object.fromEntries(memory.tools.map((tool) => [tool.name, tool.risk]))).toEqual({ store: 'low', search: 'low', delete: 'high' });
    expect(argumentsOf(memory, 'store')['text']).toMatchObject({ minLength: 1, maxLength: MEMORY_LIMITS.maxTextChars });
    expect(argumentsOf(memory, 'store')['tags']).toMatchObject({ maxItems: MEMORY_LIMITS.maxTags, items: { maxLength: MEMORY_LIMITS.maxTagChars } });
    expect(argumentsOf(memory, 'search')['query']).toMatchObject({ maxLength: MEMORY_LIMITS.maxQueryChars });
    expect(argumentsOf(memory, 'search')['limit']).toMatchObject({ minimum: 1, maximum: MEMORY_LIMITS.maxLimit });
    expect(memory.credentials).toEqual([]);
    // The database stops growing before the storage quota does, leaving room for its write-ahead log.
    expect(memory.storage?.persistent).toBe(true);
    expect(DEFAULT_MAX_BYTES).toBeLessThan((memory.storage?.sizeMb ?? 0) * 1024 * 1024 * 0.8);
  });

  it.each(BUILTIN_PLUGIN_NAMES)('%s: the image holds every module its entry point imports, and only declared packages', async (name: BuiltinPluginName) => {
    const definition = await builtinPluginImage(name);
    const entry = `/app/plugins/${name}/main.js`;
    expect(definition.config.entrypoint).toEqual(['/usr/local/bin/node', entry]);
    const { missing, packages } = await importClosure(definition, entry);
    expect(missing).toEqual([]);
    expect([...packages].sort()).toEqual([...BUILTIN_PLUGINS[name].packages].sort());
    for (const pkg of packages) expect(fileSource(definition, `/app/node_modules/${pkg}/package.json`), pkg).toBeDefined();
    // Nothing of the host side of Carapace: no daemon, runtime adapter, credential store or CLI.
    expect(definition.rootfs.filter((file) => /^\/app\/(cli|daemon|runtime|credentials|store|core|images)\//.test(file.path))).toEqual([]);
  });

  it('ship in the packed release', async () => {
    const { stdout } = await execFileAsync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: PACKAGE_ROOT, maxBuffer: 64 * 1024 * 1024 });
    const [packed] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>;
    const paths = (packed?.files ?? []).map((file) => file.path);
    for (const name of BUILTIN_PLUGIN_NAMES) {
      expect(paths).toContain(`plugins/${name}/manifest.json`);
      expect(paths).toContain(`plugins/${name}/skills/${name}.md`);
      expect(paths).toContain(`dist/plugins/${name}/main.js`);
    }
  });
});
