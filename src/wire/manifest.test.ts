import { describe, expect, it } from 'vitest';
import { CarapaceError } from '../errors.js';
import { parseManifest, type ManifestIssue } from './manifest.js';

const storeArguments = {
  type: 'object',
  properties: {
    text: { type: 'string', maxLength: 10_000 },
    tags: { type: 'array', items: { type: 'string' } },
  },
  required: ['text'],
  additionalProperties: false,
};

const valid = {
  name: 'memory',
  version: '1.2.0-beta.1+build.5',
  image: 'ghcr.io/carapace/memory:1.2.0',
  tools: [
    { name: 'store', description: 'Store a note.', arguments: storeArguments, risk: 'low' },
    {
      name: 'delete',
      description: 'Delete a note.',
      arguments: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'], additionalProperties: false },
      risk: 'high',
    },
  ],
  credentials: ['MEMORY_KEY'],
  storage: { persistent: true, sizeMb: 64 },
  skills: ['skills/memory.md'],
};

function issuesOf(json: unknown): ManifestIssue[] {
  try {
    parseManifest(json, '/plugins/memory/manifest.json');
  } catch (error) {
    if (!(error instanceof CarapaceError)) throw error;
    expect(error.code).toBe('MANIFEST_INVALID');
    expect(error.message).toContain('/plugins/memory/manifest.json');
    return error.details['issues'] as ManifestIssue[];
  }
  throw new Error('expected MANIFEST_INVALID');
}

const pathsOf = (json: unknown): string[] => issuesOf(json).map((issue) => issue.path);
const withTool = (tool: Record<string, unknown>): unknown => ({ ...valid, tools: [{ ...valid.tools[0], ...tool }] });

describe('parseManifest', () => {
  it('returns a typed manifest with a compiled validator per tool', () => {
    const manifest = parseManifest(valid, 'manifest.json');
    expect(manifest).toMatchObject({ name: 'memory', credentials: ['MEMORY_KEY'], storage: { persistent: true, sizeMb: 64 } });
    const store = manifest.tools[0];
    expect(store?.validateArguments({ text: 'hi', tags: ['a'] })).toEqual([]);
    expect(store?.validateArguments({ text: 3, extra: true }).map((issue) => issue.path).sort()).toEqual(['extra', 'text']);
  });

  it('defaults credentials and skills to empty and storage to none', () => {
    const { credentials: _c, skills: _s, storage: _st, ...minimal } = valid;
    expect(parseManifest(minimal, 'manifest.json')).toMatchObject({ credentials: [], skills: [], storage: undefined });
  });

  it('names every bad field at once', () => {
    const paths = pathsOf({ ...valid, name: 'Memory', version: '1.2', image: '-rm', credentials: ['lower'], extra: 1 });
    expect(paths.sort()).toEqual(['credentials.0', 'extra', 'image', 'name', 'version']);
  });

  it('reports a compile error and structural errors of other tools in the same pass', () => {
    const badKeyword = { ...valid.tools[0], arguments: { ...storeArguments, properties: { text: { type: 'string', fancy: 1 } } } };
    const badRisk = { ...valid.tools[1], risk: 'extreme' };
    expect(pathsOf({ ...valid, version: 'x', tools: [badKeyword, badRisk] }).sort()).toEqual(['tools.0.arguments', 'tools.1.risk', 'version']);
  });

  it('refuses image references a runtime could misread', () => {
    for (const image of ['-v/:/host', 'registry.example/UPPER', 'a b', `${'a'.repeat(256)}`, 'x@sha256:short', '']) {
      expect(pathsOf({ ...valid, image })).toEqual(['image']);
    }
    expect(parseManifest({ ...valid, image: `localhost:5000/a/b@sha256:${'f'.repeat(64)}` }, 'm').image).toContain('sha256');
  });

  it('refuses unknown tool fields, bad risk and duplicate tool names', () => {
    expect(pathsOf(withTool({ risk: 'medium', run: 'rm -rf /' })).sort()).toEqual(['tools.0.risk', 'tools.0.run']);
    expect(pathsOf({ ...valid, tools: [valid.tools[0], valid.tools[0]] })).toEqual(['tools.1']);
  });

  it('refuses argument schemas that admit open objects, naming the path inside the schema', () => {
    expect(pathsOf(withTool({ arguments: { type: 'object', properties: {} } }))).toEqual(['tools.0.arguments']);
    expect(pathsOf(withTool({ arguments: { type: 'string' } }))).toEqual(['tools.0.arguments']);
    const nested = {
      type: 'object',
      additionalProperties: false,
      properties: {
        filter: { type: 'object', properties: { any: {} } },
        list: { type: 'array', items: { type: ['object', 'null'] } },
        either: { anyOf: [{ type: 'string' }, true] },
      },
    };
    expect(pathsOf(withTool({ arguments: nested })).sort()).toEqual([
      'tools.0.arguments.properties.either.anyOf.1',
      'tools.0.arguments.properties.filter',
      'tools.0.arguments.properties.filter.properties.any',
      'tools.0.arguments.properties.list.items',
    ]);
  });

  it('refuses references outside the schema and $id', () => {
    const remote = { ...storeArguments, properties: { text: { $ref: 'https://evil.example/schema.json' } } };
    expect(pathsOf(withTool({ arguments: remote }))).toEqual(['tools.0.arguments.properties.text']);
    expect(pathsOf(withTool({ arguments: { ...storeArguments, $id: 'urn:x' } }))).toEqual(['tools.0.arguments']);
  });

  it('reports a schema Ajv cannot compile as a manifest error naming the tool', () => {
    const unknownKeyword = { ...storeArguments, properties: { text: { type: 'string', fancy: true } } };
    const issues = issuesOf(withTool({ arguments: unknownKeyword }));
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toBe('tools.0.arguments');
    expect(issues[0]?.message).toContain('tool "store"');
    // A format Ajv does not know would otherwise be silently unchecked.
    expect(pathsOf(withTool({ arguments: { ...storeArguments, properties: { text: { type: 'string', format: 'email' } } } }))).toEqual(['tools.0.arguments']);
    const ghostRequired = { ...storeArguments, required: ['ghost'] };
    expect(pathsOf(withTool({ arguments: ghostRequired }))).toEqual(['tools.0.arguments']);
  });

  it('accepts closed nested objects, local references and nullable unions', () => {
    const schema = {
      type: 'object',
      additionalProperties: false,
      properties: { where: { $ref: '#/definitions/where' }, note: { type: ['string', 'null'] }, mode: { enum: ['a', 'b'] } },
      definitions: { where: { type: 'object', additionalProperties: false, properties: { tag: { type: 'string' } } } },
    };
    const tool = parseManifest(withTool({ arguments: schema }), 'm').tools[0];
    expect(tool?.validateArguments({ where: { tag: 'x' }, note: null, mode: 'a' })).toEqual([]);
    expect(tool?.validateArguments({ where: { tag: 'x', sneaky: 1 } }).map((issue) => issue.path)).toEqual(['where.sneaky']);
  });

  it('does not let required be satisfied by Object.prototype', () => {
    const schema = { type: 'object', additionalProperties: false, properties: { toString: { type: 'string' } }, required: ['toString'] };
    const tool = parseManifest(withTool({ arguments: schema }), 'm').tools[0];
    expect(tool?.validateArguments({}).map((issue) => issue.path)).toEqual(['toString']);
  });

  it('refuses skills that leave the plugin directory, and bad storage', () => {
    for (const skill of ['/etc/passwd.md', '../secrets.md', 'a/../../b.md', 'skills\\x.md', 'C:/x.md', '.hidden.md', 'notes.txt']) {
      expect(pathsOf({ ...valid, skills: [skill] })).toEqual(['skills.0']);
    }
    expect(pathsOf({ ...valid, storage: { persistent: false, sizeMb: 1 } })).toEqual(['storage.persistent']);
    expect(pathsOf({ ...valid, storage: { persistent: true, sizeMb: 1_000_000, path: '/' } }).sort()).toEqual(['storage.path', 'storage.sizeMb']);
  });

  it('refuses a manifest that is not an object', () => {
    expect(pathsOf(null)).toEqual(['(manifest)']);
    expect(pathsOf([valid])).toEqual(['(manifest)']);
  });
});
