import type { ToolHandler } from '../../plugin-sdk/index.js';
import { integerArgument, optionalIntegerArgument, stringArgument, stringListArgument } from '../plugin-arguments.js';
import type { NoteStore } from './note-store.js';

/** Limits shared with plugins/memory/manifest.json (a test keeps the two in step). */
export const MEMORY_LIMITS = {
  maxTextChars: 65_536,
  maxTags: 16,
  maxTagChars: 64,
  maxQueryChars: 1024,
  defaultLimit: 10,
  maxLimit: 100,
} as const;

/** The memory plugin's tools over one note store. */
export function memoryTools(store: NoteStore): Readonly<Record<string, ToolHandler>> {
  return {
    store: (args) => {
      const text = stringArgument(args, 'text', { min: 1, max: MEMORY_LIMITS.maxTextChars });
      const tags = stringListArgument(args, 'tags', { min: 1, max: MEMORY_LIMITS.maxTagChars }, { max: MEMORY_LIMITS.maxTags });
      return { id: store.store(text, tags) };
    },
    search: (args) => {
      const query = stringArgument(args, 'query', { min: 1, max: MEMORY_LIMITS.maxQueryChars });
      const limit = optionalIntegerArgument(args, 'limit', MEMORY_LIMITS.defaultLimit, { min: 1, max: MEMORY_LIMITS.maxLimit });
      return store.search(query, limit);
    },
    delete: (args) => ({ deleted: store.delete(integerArgument(args, 'id', { min: 1 })) }),
  };
}
