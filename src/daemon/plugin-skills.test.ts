import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PluginManifest } from '../wire/manifest.js';
import type { CatalogedPlugin } from './plugin-catalog.js';
import { loadPluginSkills, MAX_SKILL_BYTES } from './plugin-skills.js';
import { RunningCatalog } from './running-catalog.js';

async function pluginWith(files: Record<string, string>, skills: string[]): Promise<CatalogedPlugin> {
  const dir = await mkdtemp(join(tmpdir(), 'carapace-skills-'));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  const manifest: PluginManifest = {
    name: 'notes',
    version: '1.0.0',
    image: 'localhost/notes:1',
    tools: [{ name: 'add', description: 'adds', risk: 'low', arguments: { type: 'object', additionalProperties: false }, validateArguments: () => [] }],
    credentials: [],
    storage: undefined,
    skills,
  };
  return { manifest, dir, builtin: false };
}

describe('loadPluginSkills', () => {
  it('reads each listed skill with its first heading as the title', async () => {
    const plugin = await pluginWith({ 'skills/a.md': 'intro\n# Taking notes\nbody', 'b.md': 'no heading' }, ['skills/a.md', 'b.md']);
    const { skills, failures } = await loadPluginSkills(plugin);
    expect(failures).toEqual([]);
    expect(skills.map((skill) => [skill.path, skill.title])).toEqual([
      ['skills/a.md', 'Taking notes'],
      ['b.md', 'b.md'],
    ]);
  });

  it('refuses a symlinked skill, a symlinked folder out of the plugin, an oversized or non-UTF-8 file, and keeps the good ones', async () => {
    const secret = join(await mkdtemp(join(tmpdir(), 'carapace-secret-')), 'token');
    await writeFile(secret, 'sk-ant-secret');
    const plugin = await pluginWith({ 'good.md': '# Good', 'big.md': 'x'.repeat(MAX_SKILL_BYTES + 1), 'binary.md': '\u0000' }, [
      'good.md',
      'link.md',
      'out/escape.md',
      'big.md',
      'bad.md',
      'missing.md',
    ]);
    await symlink(secret, join(plugin.dir, 'link.md'));
    await symlink(join(secret, '..'), join(plugin.dir, 'out'));
    await writeFile(join(plugin.dir, 'bad.md'), Buffer.from([0xff, 0xfe, 0x00]));
    const { skills, failures } = await loadPluginSkills(plugin);
    expect(skills.map((skill) => skill.path)).toEqual(['good.md']);
    expect(failures.map((failure) => failure.code)).toEqual(Array(5).fill('MANIFEST_INVALID'));
    expect(failures.map((failure) => failure.message).join('\n')).not.toContain('sk-ant-secret');
  });
});

describe('RunningCatalog', () => {
  it('offers the tools and skills of running plugins only', async () => {
    const plugin = await pluginWith({ 'a.md': '# A' }, ['a.md']);
    const { skills } = await loadPluginSkills(plugin);
    let running = true;
    const catalog = new RunningCatalog([plugin], skills, () => running);
    expect(catalog.catalog()).toEqual({
      tools: [{ plugin: 'notes', tool: 'add', topic: 'notes.add', description: 'adds', risk: 'low', arguments: { type: 'object', additionalProperties: false } }],
      skills: [{ plugin: 'notes', path: 'a.md', title: 'A' }],
    });
    expect(catalog.skill('notes', 'a.md')).toBe('# A');
    running = false;
    expect(catalog.catalog()).toEqual({ tools: [], skills: [] });
    expect(catalog.skill('notes', 'a.md')).toBeUndefined();
  });
});
