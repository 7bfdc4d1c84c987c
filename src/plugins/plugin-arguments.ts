import type { JsonObject } from '../wire/json.js';

/**
 * Narrowing of a tool's arguments inside a built-in plugin. The core has already checked them
 * against the manifest's schema; these checks repeat the part the plugin's own code relies on, so
 * a schema edited in the manifest alone cannot make a handler read a number as a string. A failed
 * check throws, and the caller gets the SDK's generic PLUGIN_ERROR.
 */

export interface Bounds {
  readonly min?: number;
  readonly max?: number;
}

export function stringArgument(args: JsonObject, name: string, bounds: Bounds = {}): string {
  const value = args[name];
  if (typeof value !== 'string' || !within(codePoints(value), bounds)) throw new TypeError(`${name} must be a string within ${describe(bounds)} characters`);
  return value;
}

export function integerArgument(args: JsonObject, name: string, bounds: Bounds = {}): number {
  const value = args[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || !within(value, bounds)) throw new TypeError(`${name} must be an integer within ${describe(bounds)}`);
  return value;
}

/** An optional integer: `fallback` when absent. */
export function optionalIntegerArgument(args: JsonObject, name: string, fallback: number, bounds: Bounds = {}): number {
  return Object.hasOwn(args, name) ? integerArgument(args, name, bounds) : fallback;
}

/** An optional list of strings: empty when absent. */
export function stringListArgument(args: JsonObject, name: string, items: Bounds, length: Bounds): string[] {
  if (!Object.hasOwn(args, name)) return [];
  const value = args[name];
  if (!Array.isArray(value) || !within(value.length, length)) throw new TypeError(`${name} must be a list within ${describe(length)} items`);
  return value.map((item) => {
    if (typeof item !== 'string' || !within(codePoints(item), items)) throw new TypeError(`each of ${name} must be a string within ${describe(items)} characters`);
    return item;
  });
}

/**
 * JSON Schema's minLength and maxLength count code points (Ajv does too), not UTF-16 units, so an
 * emoji is one character here as it was when the core checked the schema.
 */
function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

function within(value: number, { min, max }: Bounds): boolean {
  return (min === undefined || value >= min) && (max === undefined || value <= max);
}

function describe({ min, max }: Bounds): string {
  return `${String(min ?? '-inf')}..${String(max ?? 'inf')}`;
}
