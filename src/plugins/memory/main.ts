import { runPlugin } from '../../plugin-sdk/index.js';
import { exitOnFailure } from '../exit-on-failure.js';
import { memoryTools } from './memory-tools.js';
import { NoteStore } from './note-store.js';

/** Inside the container: the plugin's persistent storage mount (manifest `storage`). */
const MEMORY_DB_PATH = '/data/memory.db';

/**
 * The memory plugin's entry point (`/app/plugins/memory/main.js`). The database is opened before
 * the plugin announces itself ready, so a missing or read-only /data fails the start, visibly,
 * instead of failing every call.
 */
async function main(): Promise<void> {
  using store = NoteStore.open(MEMORY_DB_PATH);
  await runPlugin({ name: 'memory', tools: memoryTools(store) });
}

await main().catch(exitOnFailure('memory'));
