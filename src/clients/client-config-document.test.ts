import { describe, expect, it } from 'vitest';
import { CarapaceError } from '../errors.js';
import { parseClientConfig, planServerChange, renderClientConfig } from './client-config-document.js';

const FILE = '/home/ada/.cursor/mcp.json';
const entry = { command: '/usr/bin/node', args: ['/opt/dist/cli/main.js', 'mcp'] };

function codeOf(attempt: () => unknown): string {
  try {
    attempt();
  } catch (error) {
    if (error instanceof CarapaceError) return error.code;
    throw error;
  }
  throw new Error('expected a CarapaceError');
}

describe('parseClientConfig', () => {
  it('parses an object and treats an empty file as an empty object', () => {
    expect(parseClientConfig('{"a":1}', FILE)).toEqual({ a: 1 });
    expect(parseClientConfig(' \n', FILE)).toEqual({});
  });

  it.each([
    ['text that is not JSON', '{"mcpServers": {'],
    ['a JSON array', '[]'],
    ['JSON null', 'null'],
    ['an mcpServers array', '{"mcpServers": []}'],
    ['an mcpServers string', '{"mcpServers": "carapace"}'],
    ['an integer JSON.parse would round', '{"projects": {"id": 12345678901234567890}}'],
  ])('CLIENT_CONFIG_INVALID for %s, naming the file', (_what, text) => {
    expect(codeOf(() => parseClientConfig(text, FILE))).toBe('CLIENT_CONFIG_INVALID');
    expect(() => parseClientConfig(text, FILE)).toThrow(FILE);
  });
});

describe('planServerChange', () => {
  const document = { theme: 'dark', mcpServers: { github: { command: 'gh' }, local: { url: 'http://127.0.0.1:9' } }, zeta: [1, 2] };

  it('adds carapace last, keeping every other server and key in place', () => {
    const change = planServerChange(document, entry);
    expect(change).toMatchObject({ hadEntry: false, before: undefined, after: entry, changed: true });
    expect(Object.keys(change.document)).toEqual(['theme', 'mcpServers', 'zeta']);
    expect(change.document['mcpServers']).toEqual({ ...document.mcpServers, carapace: entry });
    expect(Object.keys(change.document['mcpServers'] as object)).toEqual(['github', 'local', 'carapace']);
    expect(document.mcpServers).not.toHaveProperty('carapace');
  });

  it('creates mcpServers when the file has none', () => {
    expect(planServerChange({ theme: 'dark' }, entry).document).toEqual({ theme: 'dark', mcpServers: { carapace: entry } });
  });

  it('is unchanged when the entry is already there, whatever its key order', () => {
    const configured = { mcpServers: { carapace: { args: [...entry.args], command: entry.command } } };
    const change = planServerChange(configured, entry);
    expect(change.changed).toBe(false);
    expect(change.document).toBe(configured);
  });

  it('replaces a different carapace entry in its place', () => {
    const stale = { mcpServers: { carapace: { command: 'carapace', args: ['mcp'] }, github: { command: 'gh' } } };
    const change = planServerChange(stale, entry);
    expect(change).toMatchObject({ hadEntry: true, before: { command: 'carapace', args: ['mcp'] }, after: entry, changed: true });
    expect(Object.keys(change.document['mcpServers'] as object)).toEqual(['carapace', 'github']);
  });

  it('removes only carapace, and is unchanged when there is none', () => {
    const configured = { theme: 'dark', mcpServers: { github: { command: 'gh' }, carapace: entry } };
    const removed = planServerChange(configured, undefined);
    expect(removed).toMatchObject({ hadEntry: true, before: entry, after: undefined, changed: true });
    expect(removed.document).toEqual({ theme: 'dark', mcpServers: { github: { command: 'gh' } } });
    expect(planServerChange(document, undefined).changed).toBe(false);
    expect(planServerChange({}, undefined).changed).toBe(false);
  });

  it('keeps a "__proto__" key in the file as data, never as a prototype', () => {
    const text = '{"__proto__": {"polluted": true}, "mcpServers": {"__proto__": {"command": "x"}}}';
    const { document } = planServerChange(parseClientConfig(text, FILE), entry);
    expect(Object.keys(document)).toEqual(['__proto__', 'mcpServers']);
    expect(Object.keys(document['mcpServers'] as object)).toEqual(['__proto__', 'carapace']);
    expect(Object.getPrototypeOf(document)).toBe(Object.prototype);
    expect(renderClientConfig(document)).toContain('"__proto__": {\n    "polluted": true\n  }');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('renderClientConfig', () => {
  it('writes 2-space JSON with a trailing newline', () => {
    expect(renderClientConfig({ a: { b: 1 } })).toBe('{\n  "a": {\n    "b": 1\n  }\n}\n');
  });
});
