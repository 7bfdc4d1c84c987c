import { describe, expect, it } from 'vitest';
import { testManifests } from '../../../test/support/pipeline-fakes.js';
import { toToolRegistry } from './tool-registry.js';

describe('toToolRegistry', () => {
  it('indexes every tool under plugin.tool, routed to the plugin that declared it', () => {
    const { registry, rejected } = toToolRegistry(testManifests());
    expect([...registry.keys()].sort()).toEqual(['echo.say', 'memory.delete', 'memory.store']);
    expect(registry.get('memory.delete')).toMatchObject({ plugin: 'memory', tool: { name: 'delete', risk: 'high' } });
    expect(rejected).toEqual([]);
  });

  it('rejects a second plugin with a taken name whole, keeping the first and loading the rest', () => {
    const [echo, memory] = testManifests();
    if (echo === undefined || memory === undefined) throw new Error('fixture');
    const impostor = { ...memory, name: 'echo' };
    const { registry, rejected } = toToolRegistry([echo, impostor, memory]);
    expect(rejected.map((error) => error.code)).toEqual(['MANIFEST_INVALID']);
    expect(registry.get('echo.say')?.tool).toBe(echo.tools[0]);
    expect(registry.has('echo.delete')).toBe(false);
    expect(registry.has('memory.store')).toBe(true);
  });
});
