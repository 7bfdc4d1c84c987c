import Database from 'better-sqlite3';
import { toFtsQuery } from './fts-query.js';

/** One stored note, as `memory.search` returns it. */
export interface Note {
  readonly id: number;
  readonly text: string;
  readonly tags: readonly string[];
  /** ISO 8601, UTC. */
  readonly createdAt: string;
}

export interface SearchResult {
  readonly notes: readonly Note[];
  /** True when more notes matched than fit the reply budget or the limit. */
  readonly truncated: boolean;
}

export interface NoteStoreOptions {
  /** Defaults to the system clock. */
  readonly now?: () => Date;
  /**
   * The database file may grow to this many bytes; past it a store fails (SQLITE_FULL) instead of
   * filling the plugin's storage mount, which the write-ahead log needs too.
   */
  readonly maxBytes?: number;
  /** Matches of a search are returned until their JSON reaches this size, so a reply fits a wire frame. */
  readonly replyBudgetBytes?: number;
}

export const DEFAULT_MAX_BYTES = 48 * 1024 * 1024;
export const DEFAULT_REPLY_BUDGET_BYTES = 512 * 1024;

const SCHEMA_VERSION = 1;

/**
 * Notes in SQLite with an FTS5 index over their text and tags. The notes table owns the ids
 * (AUTOINCREMENT, so a deleted note's id is never handed out again and cannot be confused with a
 * newer note); the FTS table holds its own copy of the indexed text under the same rowid, so
 * deleting a note is a plain DELETE in both, in one transaction.
 *
 * Every statement is prepared once with `?` parameters; no caller text is ever part of SQL.
 */
export class NoteStore implements Disposable {
  readonly #db: Database.Database;
  readonly #now: () => Date;
  readonly #replyBudget: number;
  readonly #insertNote: Database.Statement<[string, string, string]>;
  readonly #insertIndex: Database.Statement<[number | bigint, string, string]>;
  readonly #search: Database.Statement<[string, number], NoteRow>;
  readonly #deleteNote: Database.Statement<[number]>;
  readonly #deleteIndex: Database.Statement<[number]>;

  private constructor(db: Database.Database, options: NoteStoreOptions) {
    this.#db = db;
    this.#now = options.now ?? (() => new Date());
    this.#replyBudget = options.replyBudgetBytes ?? DEFAULT_REPLY_BUDGET_BYTES;
    this.#insertNote = db.prepare('INSERT INTO notes (text, tags, created_at) VALUES (?, ?, ?)');
    this.#insertIndex = db.prepare('INSERT INTO notes_fts (rowid, text, tags) VALUES (?, ?, ?)');
    this.#search = db.prepare(
      'SELECT notes.id AS id, notes.text AS text, notes.tags AS tags, notes.created_at AS createdAt ' +
        'FROM notes_fts JOIN notes ON notes.id = notes_fts.rowid WHERE notes_fts MATCH ? ORDER BY notes_fts.rank, notes.id LIMIT ?',
    );
    this.#deleteNote = db.prepare('DELETE FROM notes WHERE id = ?');
    this.#deleteIndex = db.prepare('DELETE FROM notes_fts WHERE rowid = ?');
  }

  /**
   * Opens (creating if needed) the store at `path`: write-ahead logging, so a search never waits on
   * a store; `synchronous = FULL`, so a stored note survives a crash of the container; temporary
   * tables in memory, since /tmp in a plugin container is a small tmpfs.
   */
  static open(path: string, options: NoteStoreOptions = {}): NoteStore {
    const db = new Database(path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('temp_store = MEMORY');
      db.pragma('foreign_keys = ON');
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      db.pragma(`max_page_count = ${String(Math.max(1, Math.floor((options.maxBytes ?? DEFAULT_MAX_BYTES) / pageSize)))}`);
      migrate(db);
      return new NoteStore(db, options);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Stores a note and returns its id. */
  store(text: string, tags: readonly string[]): number {
    const createdAt = this.#now().toISOString();
    const insert = this.#db.transaction(() => {
      const { lastInsertRowid } = this.#insertNote.run(text, JSON.stringify(tags), createdAt);
      this.#insertIndex.run(lastInsertRowid, text, tags.join(' '));
      return Number(lastInsertRowid);
    });
    return insert.immediate();
  }

  /**
   * Notes matching any word of `query` (text or tags), best match first, at most `limit`. A query
   * with no words (only punctuation, say) matches nothing.
   */
  search(query: string, limit: number): SearchResult {
    const match = toFtsQuery(query);
    if (match === undefined) return { notes: [], truncated: false };
    // One row more than asked for tells whether the limit cut anything off.
    const rows = this.#search.all(match, limit + 1);
    const notes: Note[] = [];
    let bytes = 0;
    for (const row of rows.slice(0, limit)) {
      const note: Note = { id: row.id, text: row.text, tags: parseTags(row.tags), createdAt: row.createdAt };
      bytes += Buffer.byteLength(JSON.stringify(note));
      // Always return the best match: one note's JSON is far below the budget (65536 characters, escaped).
      if (notes.length > 0 && bytes > this.#replyBudget) return { notes, truncated: true };
      notes.push(note);
    }
    return { notes, truncated: rows.length > limit };
  }

  /** Deletes a note; false when there was none with that id. */
  delete(id: number): boolean {
    const remove = this.#db.transaction(() => {
      this.#deleteIndex.run(id);
      return this.#deleteNote.run(id).changes > 0;
    });
    return remove.immediate();
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

interface NoteRow {
  readonly id: number;
  readonly text: string;
  readonly tags: string;
  readonly createdAt: string;
}

function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === SCHEMA_VERSION) return;
  if (version !== 0) throw new Error(`memory.db has schema version ${String(version)}; this plugin knows ${String(SCHEMA_VERSION)}`);
  db.transaction(() => {
    db.exec(`
      CREATE TABLE notes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        text TEXT NOT NULL,
        tags TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE VIRTUAL TABLE notes_fts USING fts5(text, tags);
    `);
    db.pragma(`user_version = ${String(SCHEMA_VERSION)}`);
  }).immediate();
}

/** Tags were written by this store as a JSON list of strings; anything else means the file was edited. */
function parseTags(json: string): string[] {
  const tags: unknown = JSON.parse(json);
  if (!Array.isArray(tags) || !tags.every((tag): tag is string => typeof tag === 'string')) throw new Error('a stored note has malformed tags');
  return tags;
}
