import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ToolContext, ToolHandler } from '../../plugin-sdk/index.js';
import type { JsonObject } from '../../wire/json.js';
import { MEMORY_LIMITS, memoryTools } from './memory-tools.js';
import { NoteStore } from './note-store.js';

let dir: string;
let store: NoteStore;
let tools: Readonly<Record<string, ToolHandler>>;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'carapace-memory-tools-'));
  store = NoteStore.open(join(dir, 'memory.db'));
  tools = memoryTools(store);
});
afterEach(async () => {
  store.close();
  await rm(dir, { recursive: true, force: true });
});

const context: ToolContext = { credentials: Object.freeze({}), plugin: 'memory', tool: 'test', correlation: 'c-1', signal: new AbortController().signal };
const call = (name: string, args: JsonObject): unknown => {
  const handler = tools[name];
  if (handler === undefined) throw new Error(`no tool ${name}`);
  return handler(args, context);
};

describe('memory tools', () => {
  it('store, search and delete a note', () => {
    const { id } = call('store', { text: 'the wifi password is on the fridge', tags: ['house'] }) as { id: number };
    expect(call('search', { query: 'wifi' })).toMatchObject({ notes: [{ id, tags: ['house'] }], truncated: false });
    expect(call('delete', { id })).toEqual({ deleted: true });
    expect(call('search', { query: 'wifi', limit: 5 })).toEqual({ notes: [], truncated: false });
  });

  it('refuses arguments outside the manifest limits', () => {
    expect(() => call('store', { text: '' })).toThrow(TypeError);
    expect(() => call('store', { text: 'x'.repeat(MEMORY_LIMITS.maxTextChars + 1) })).toThrow(TypeError);
    expect(() => call('store', { text: 'x', tags: ['a'.repeat(MEMORY_LIMITS.maxTagChars + 1)] })).toThrow(TypeError);
    expect(() => call('store', { text: 'x', tags: Array.from({ length: MEMORY_LIMITS.maxTags + 1 }, () => 't') })).toThrow(TypeError);
    expect(() => call('store', { text: 'x', tags: [1] })).toThrow(TypeError);
    expect(() => call('search', { query: 'x', limit: 0 })).toThrow(TypeError);
    expect(() => call('search', { query: 'x', limit: MEMORY_LIMITS.maxLimit + 1 })).toThrow(TypeError);
    expect(() => call('delete', { id: 0 })).toThrow(TypeError);
    expect(() => call('delete', { id: '1' })).toThrow(TypeError);
  });
});
