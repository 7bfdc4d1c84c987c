import { describe, expect, it } from 'vitest';
import type { CatalogTool } from '../wire/control.js';
import { nameCatalog, promptNameOf, resourceUriOf, toolNameOf } from './tool-names.js';

const tool = (plugin: string, name: string): CatalogTool => ({ plugin, tool: name, topic: `${plugin}.${name}`, description: 'd', risk: 'low', arguments: {} });

describe('MCP names', () => {
  it('namespaces tools by plugin with characters every model API accepts', () => {
    expect(toolNameOf(tool('memory', 'store'))).toBe('memory__store');
    expect(toolNameOf(tool('memory', 'store'))).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
    expect(promptNameOf({ plugin: 'memory', path: 'skills/notes.v2.md' })).toBe('memory__skills_notes_v2');
    expect(resourceUriOf({ plugin: 'memory', path: 'skills/notes.md' })).toBe('carapace://skills/memory/skills/notes.md');
  });

  it('maps names back by table, and leaves out both entries when two would share a name', () => {
    const named = nameCatalog({ tools: [tool('a', 'b__c'), tool('a__b', 'c'), tool('echo', 'echo')], skills: [] });
    expect([...named.tools.keys()]).toEqual(['echo__echo']);
    expect(named.tools.get('echo__echo')?.topic).toBe('echo.echo');
    expect(named.ambiguous).toEqual(['a__b__c']);
  });
});
