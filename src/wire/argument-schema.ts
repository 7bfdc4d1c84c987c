import { Ajv, type ErrorObject } from 'ajv';
import type { JsonObject } from './json.js';

/**
 * The JSON Schema a tool declares for its arguments, and the validator compiled from it once, when
 * the manifest is loaded. The schema is a contract: whatever passes reaches the plugin, so every
 * object it admits must be closed (`additionalProperties: false`), at every depth. An open object
 * anywhere is a smuggling channel: a caller could slip fields past the confirmation prompt and the
 * audit reader, who see only the declared ones, to a plugin that happens to act on them.
 */

/** One problem, with a dotted path relative to the schema or argument root. */
export interface SchemaIssue {
  readonly path: string;
  readonly message: string;
}

/** Checks arguments against a tool's schema; an empty list means valid. */
export type ArgumentsValidator = (value: JsonObject) => readonly SchemaIssue[];

/** Deeper schemas are refused: nothing a tool needs, and it bounds this walk. */
const MAX_SCHEMA_DEPTH = 32;

/** Keywords whose value is one subschema that describes accepted data. */
const SINGLE_SUBSCHEMA = ['items', 'additionalItems', 'contains', 'then', 'else'] as const;
/** Keywords whose value is a list of accepted-data subschemas. */
const LIST_SUBSCHEMAS = ['anyOf', 'oneOf', 'allOf', 'items'] as const;
/** Keywords whose value maps names to subschemas. */
const MAP_SUBSCHEMAS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependencies'] as const;

/**
 * Finds every place where `schema` would admit an object with undeclared fields, or leave a value
 * untyped. The rules: the root is `type: "object"` with `additionalProperties: false`; every
 * subschema whose `type` includes `"object"` has `additionalProperties: false`; every subschema
 * declares `type`, `const` or `enum`, or is built from `$ref`, `anyOf`, `oneOf` or `allOf`
 * (whose branches follow the same rules); `true` is refused; `$ref` stays inside the document and
 * `$id` is refused, so a schema can neither reach outside itself nor collide with another.
 * `not`, `if` and `propertyNames` are not walked: they reject or select values, never admit one.
 */
export function findSchemaIssues(schema: unknown): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  if (!isRecord(schema) || schema['type'] !== 'object') {
    issues.push({ path: '(schema)', message: 'must be a JSON Schema object with type "object"' });
  }
  walk(schema, '', 0, issues);
  return issues;
}

function walk(node: unknown, path: string, depth: number, issues: SchemaIssue[]): void {
  const at = path === '' ? '(schema)' : path;
  if (depth > MAX_SCHEMA_DEPTH) {
    issues.push({ path: at, message: `nests deeper than ${String(MAX_SCHEMA_DEPTH)} levels` });
    return;
  }
  if (node === false) return;
  if (node === true) {
    issues.push({ path: at, message: 'the schema `true` accepts any value, including open objects' });
    return;
  }
  if (!isRecord(node)) {
    issues.push({ path: at, message: 'must be a schema object' });
    return;
  }
  checkNode(node, at, issues);
  for (const keyword of SINGLE_SUBSCHEMA) {
    const child = node[keyword];
    if (child !== undefined && !Array.isArray(child)) walk(child, join(path, keyword), depth + 1, issues);
  }
  for (const keyword of LIST_SUBSCHEMAS) {
    const children = node[keyword];
    if (Array.isArray(children)) children.forEach((child, index) => walk(child, join(path, `${keyword}.${String(index)}`), depth + 1, issues));
  }
  for (const keyword of MAP_SUBSCHEMAS) {
    const children = node[keyword];
    if (!isRecord(children)) continue;
    for (const [name, child] of Object.entries(children)) {
      // draft-07 `dependencies` also allows a list of property names, which admits nothing.
      if (keyword === 'dependencies' && Array.isArray(child)) continue;
      walk(child, join(path, `${keyword}.${name}`), depth + 1, issues);
    }
  }
}

function checkNode(node: Readonly<Record<string, unknown>>, at: string, issues: SchemaIssue[]): void {
  const type = node['type'];
  const types = Array.isArray(type) ? type : [type];
  if (types.includes('object') && node['additionalProperties'] !== false) {
    issues.push({ path: at, message: 'an object schema must set additionalProperties: false' });
  }
  const constrained = ['type', 'const', 'enum', '$ref', 'anyOf', 'oneOf', 'allOf'].some((keyword) => node[keyword] !== undefined);
  if (!constrained) {
    issues.push({ path: at, message: 'must declare type, const or enum (an untyped schema admits open objects)' });
  }
  const ref = node['$ref'];
  if (ref !== undefined && (typeof ref !== 'string' || !ref.startsWith('#'))) {
    issues.push({ path: at, message: '$ref must point inside this schema (start with "#")' });
  }
  if (node['$id'] !== undefined) issues.push({ path: at, message: '$id is not allowed' });
}

export type CompileResult =
  | { readonly ok: true; readonly validate: ArgumentsValidator }
  | { readonly ok: false; readonly message: string };

/** Compiles argument schemas that passed `findSchemaIssues`; see `createArgumentsCompiler`. */
export type ArgumentsCompiler = (schema: JsonObject) => CompileResult;

/**
 * Returns a compiler for the argument schemas of one manifest; each compiles its schema once, at
 * load time. Ajv runs in strict mode (unknown keywords and formats, and `required` names without a
 * matching property, are compile errors rather than silently unchecked constraints) and reports all
 * errors. `ownProperties` makes `required` look at own properties only, never at
 * `Object.prototype`. A compiler per manifest keeps one plugin's schemas out of another's Ajv cache.
 */
export function createArgumentsCompiler(): ArgumentsCompiler {
  const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true, ownProperties: true, verbose: false });
  return (schema) => {
    try {
      const check = ajv.compile(schema);
      return { ok: true, validate: (value) => (check(value) ? [] : (check.errors ?? []).map(toSchemaIssue)) };
    } catch (error) {
      return { ok: false, message: error instanceof Error ? error.message : String(error) };
    }
  };
}

/** Argument names are caller-chosen; an issue quotes at most this much of one. */
const MAX_NAME_CHARS = 64;

function toSchemaIssue(error: ErrorObject): SchemaIssue {
  const segments = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
  const params = error.params as Record<string, unknown>;
  const extra = params['additionalProperty'] ?? params['missingProperty'];
  if (typeof extra === 'string') segments.push(extra);
  const path = segments.map((segment) => (segment.length > MAX_NAME_CHARS ? `${segment.slice(0, MAX_NAME_CHARS)}…` : segment)).join('.');
  const message = error.keyword === 'additionalProperties' ? 'is not a declared argument' : (error.message ?? error.keyword);
  return { path: path === '' ? '(arguments)' : path, message };
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}
