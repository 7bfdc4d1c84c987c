import type { JsonObject } from '../wire/json.js';

/**
 * The core's side of the plugin protocol (docs/plugin-sdk.md): what it sends a plugin, and how it
 * tells the plugin's one non-reply message, ready, from a call the plugin makes.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

export const SHUTDOWN_FRAME: Uint8Array = encoder.encode(JSON.stringify({ type: 'shutdown' }));

/** A call to the plugin: the bare tool name and the core's call id as correlation. */
export function toCallFrame(correlation: string, tool: string, args: JsonObject): Uint8Array {
  return encoder.encode(JSON.stringify({ correlation, tool, arguments: args }));
}

const READY_BYTES = 16;

/** True for exactly `{"type":"ready"}` (whitespace allowed); anything else is not ready. */
export function isReadyFrame(frame: Uint8Array): boolean {
  // Cheap guard first: ready is tiny, so a large frame is never parsed here.
  if (frame.byteLength > READY_BYTES * 4) return false;
  try {
    const value: unknown = JSON.parse(decoder.decode(frame));
    return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 1 && (value as { type?: unknown }).type === 'ready';
  } catch {
    // Not JSON: not ready. The pipeline parses it again and refuses it with its exact code.
    return false;
  }
}
