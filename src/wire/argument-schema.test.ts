import { describe, expect, it } from 'vitest';
import { createArgumentsCompiler, findSchemaIssues } from './argument-schema.js';
import type { JsonObject } from './json.js';

const closed = (properties: Record<string, unknown>): JsonObject => ({ type: 'object', additionalProperties: false, properties }) as JsonObject;
const pathsOf = (schema: unknown): string[] => findSchemaIssues(schema).map((issue) => issue.path);

describe('findSchemaIssues', () => {
  it('accepts a closed schema', () => {
    expect(findSchemaIssues(closed({ a: { type: 'string' }, b: closed({ c: { const: 1 } }) }))).toEqual([]);
  });

  it('requires a closed object at the root', () => {
    expect(pathsOf({ type: 'object' })).toEqual(['(schema)']);
    expect(pathsOf({ type: 'array', items: { type: 'string' } })).toEqual(['(schema)']);
    expect(pathsOf(true)).toEqual(['(schema)', '(schema)']);
  });

  it('finds open objects in tuples, then/else branches, definitions and dependencies', () => {
    const schema = closed({
      pair: { type: 'array', items: [{ type: 'string' }, { type: 'object' }] },
      branch: { type: 'object', additionalProperties: false, if: { type: 'object' }, then: { type: 'object' } },
    });
    expect(pathsOf({ ...schema, definitions: { loose: { type: 'object' } }, dependencies: { a: ['b'], c: { type: 'object' } } }).sort()).toEqual([
      'definitions.loose',
      'dependencies.c',
      'properties.branch.then',
      'properties.pair.items.1',
    ]);
  });

  it('does not walk keywords that only reject or select values', () => {
    expect(findSchemaIssues(closed({ a: { type: 'string', not: { type: 'object' } } }))).toEqual([]);
    expect(findSchemaIssues({ ...closed({}), propertyNames: { maxLength: 3 } })).toEqual([]);
  });

  it('stops at a depth limit instead of recursing without bound', () => {
    let schema: JsonObject = { type: 'string' };
    for (let level = 0; level < 100; level += 1) schema = closed({ n: schema });
    expect(findSchemaIssues(schema).map((issue) => issue.message)).toEqual([expect.stringContaining('deeper than')]);
  });
});

describe('createArgumentsCompiler', () => {
  it('reports every failing argument with its path', () => {
    const compile = createArgumentsCompiler();
    const compiled = compile({ ...closed({ a: { type: 'integer' }, b: closed({ c: { type: 'string' } }) }), required: ['a'] });
    if (!compiled.ok) throw new Error(compiled.message);
    expect(compiled.validate({ b: { c: 1, 'x/y': 2 } }).map((issue) => issue.path).sort()).toEqual(['a', 'b.c', 'b.x/y']);
  });

  it('cuts long caller-chosen names in issue paths', () => {
    const compiled = createArgumentsCompiler()(closed({}));
    if (!compiled.ok) throw new Error(compiled.message);
    expect(compiled.validate({ ['k'.repeat(10_000)]: 1 })[0]?.path.length).toBeLessThanOrEqual(65);
  });
});
