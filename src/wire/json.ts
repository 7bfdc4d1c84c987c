import { CarapaceError } from '../errors.js';

/** A value JSON can carry. Everything parsed from a frame or a manifest is one of these. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | JsonObject;
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

/**
 * Keys that reach an object's prototype machinery. `JSON.parse` makes `__proto__` an own data
 * property, which is harmless until some later code copies the object with `Object.assign`, a
 * spread into a class or a naive deep merge: then it rewrites a prototype. `constructor` and
 * `prototype` are the other half of the same gadget chains. No Carapace message needs them.
 */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export const DEFAULT_MAX_DEPTH = 32;

export interface JsonTextLimits {
  /** How many objects and arrays may nest; the top-level value is depth 1. */
  readonly maxDepth: number;
}

/**
 * Parses untrusted JSON text, then refuses prototype-pollution keys at any depth
 * (`WIRE_FORBIDDEN_KEY`, naming every one) and nesting deeper than `limits.maxDepth`
 * (`WIRE_TOO_DEEP`). Bad JSON is `WIRE_MALFORMED_JSON`. A forbidden key below the depth limit is
 * not looked for: that document is refused as too deep.
 *
 * The keys are checked by an iterative walk rather than a `JSON.parse` reviver: V8 runs revivers
 * recursively, so a frame of a few hundred thousand `[` overflows the stack inside the reviver,
 * while plain `JSON.parse` and this walk handle any depth the frame-size limit lets through.
 */
export function parseJsonText(text: string, limits: JsonTextLimits): JsonValue {
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch (error) {
    throw new CarapaceError('WIRE_MALFORMED_JSON', `not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const { forbidden, depth } = inspectTree(value, limits.maxDepth);
  if (forbidden.length > 0) {
    throw new CarapaceError('WIRE_FORBIDDEN_KEY', `forbidden key at ${forbidden.join(', ')}`, {
      details: { paths: forbidden },
    });
  }
  if (depth > limits.maxDepth) {
    throw new CarapaceError('WIRE_TOO_DEEP', `nesting deeper than ${String(limits.maxDepth)} levels`, {
      details: { maxDepth: limits.maxDepth },
    });
  }
  return value;
}

/** True for a JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** At most this many forbidden paths are reported, so a hostile frame cannot inflate the error. */
const MAX_REPORTED_PATHS = 20;

interface TreeFacts {
  /** Dotted paths of forbidden keys, e.g. `arguments.a.__proto__`. */
  readonly forbidden: string[];
  /** The deepest nesting seen, stopping one level past `maxDepth`. */
  readonly depth: number;
}

function inspectTree(root: JsonValue, maxDepth: number): TreeFacts {
  const forbidden: string[] = [];
  let deepest = 0;
  const pending: { value: JsonValue; path: string; depth: number }[] = [{ value: root, path: '', depth: 1 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value, path, depth } = next;
    if (typeof value !== 'object' || value === null) continue;
    deepest = Math.max(deepest, depth);
    // Past the limit the answer is already "too deep"; walking further only costs time.
    if (depth > maxDepth) continue;
    if (Array.isArray(value)) {
      value.forEach((item: JsonValue, index) => pending.push({ value: item, path: join(path, String(index)), depth: depth + 1 }));
      continue;
    }
    for (const [key, item] of Object.entries(value as JsonObject)) {
      const at = join(path, key);
      if (FORBIDDEN_KEYS.has(key) && forbidden.length < MAX_REPORTED_PATHS) forbidden.push(at);
      pending.push({ value: item, path: at, depth: depth + 1 });
    }
  }
  return { forbidden, depth: deepest };
}

/** Keys are attacker-chosen and may be megabytes long; paths in errors quote at most this much of one. */
const MAX_KEY_CHARS = 64;

function join(path: string, key: string): string {
  const shown = key.length > MAX_KEY_CHARS ? `${key.slice(0, MAX_KEY_CHARS)}…` : key;
  return path === '' ? shown : `${path}.${shown}`;
}
