import { isDeepStrictEqual } from 'node:util';
import { CarapaceError } from '../errors.js';
import { SERVER_NAME, type ServerEntry } from './mcp-client.js';

/** A client's whole configuration file, parsed. Every key other than `mcpServers.carapace` is the user's. */
export type ClientConfigDocument = { readonly [key: string]: unknown };

/** What setup or remove would do to one document; `document` is the result (the input itself when unchanged). */
export interface ServerChange {
  /** Whether `mcpServers.carapace` was there before (its value may be anything the user wrote). */
  readonly hadEntry: boolean;
  readonly before: unknown;
  /** The entry afterwards; undefined once removed, or when there was none to remove. */
  readonly after: unknown;
  readonly changed: boolean;
  readonly document: ClientConfigDocument;
}

/**
 * Parses a client's configuration file. Anything Carapace could not write back without losing
 * the user's data is CLIENT_CONFIG_INVALID naming the file, and the file is then never written:
 * not JSON, not an object, `mcpServers` not an object, or a number JSON.parse cannot hold exactly
 * (an integer beyond 2^53 would come back as a different number). An empty file is an empty object.
 */
export function parseClientConfig(text: string, file: string): ClientConfigDocument {
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalid(file, `is not valid JSON (${error instanceof Error ? error.message : String(error)})`, error);
  }
  if (!isJsonObject(parsed)) throw invalid(file, 'does not hold a JSON object');
  const servers = ownValue(parsed, 'mcpServers');
  if (servers !== undefined && !isJsonObject(servers)) throw invalid(file, 'has an mcpServers that is not an object');
  const inexact = findInexactNumber(parsed, '');
  if (inexact !== undefined) throw invalid(file, `holds a number at ${inexact} too large to keep exactly`);
  return parsed;
}

/** Sets `mcpServers.carapace` to `desired`, or removes it when `desired` is undefined; nothing else changes. */
export function planServerChange(document: ClientConfigDocument, desired: ServerEntry | undefined): ServerChange {
  const servers = ownValue(document, 'mcpServers') as ClientConfigDocument | undefined;
  const hadEntry = servers !== undefined && Object.hasOwn(servers, SERVER_NAME);
  const before = hadEntry ? servers[SERVER_NAME] : undefined;
  const unchanged = desired === undefined ? !hadEntry : hadEntry && isDeepStrictEqual(before, desired);
  if (unchanged) return { hadEntry, before, after: before, changed: false, document };
  // Spreads keep every other key where it was; a new key is added last, as a person would.
  const nextServers = desired === undefined ? withoutKey(servers ?? {}, SERVER_NAME) : { ...servers, [SERVER_NAME]: desired };
  return { hadEntry, before, after: desired, changed: true, document: { ...document, mcpServers: nextServers } };
}

/** The file's new text: 2-space indent and a trailing newline, as the clients write it themselves. */
export function renderClientConfig(document: ClientConfigDocument): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

function isJsonObject(value: unknown): value is ClientConfigDocument {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Own properties only: a key such as `__proto__` in the file is data, never the prototype. */
function ownValue(object: ClientConfigDocument, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function withoutKey(object: ClientConfigDocument, key: string): ClientConfigDocument {
  return Object.fromEntries(Object.entries(object).filter(([name]) => name !== key));
}

function findInexactNumber(value: unknown, path: string): string | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && !Number.isSafeInteger(value) ? path || '(top level)' : undefined;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = findInexactNumber(item, `${path}[${index}]`);
      if (found !== undefined) return found;
    }
  } else if (isJsonObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      const found = findInexactNumber(item, path === '' ? key : `${path}.${key}`);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

function invalid(file: string, why: string, cause?: unknown): CarapaceError {
  return new CarapaceError('CLIENT_CONFIG_INVALID', `${file} ${why}; it was left as it is`, {
    ...(cause === undefined ? {} : { cause }),
    details: { file },
  });
}
