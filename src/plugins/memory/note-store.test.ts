import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NoteStore } from './note-store.js';

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'carapace-memory-'));
  path = join(dir, 'memory.db');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const fixedClock = (): Date => new Date('2026-11-23T10:00:00.000Z');

/** Queries that are FTS5 syntax errors or operators if they reach MATCH unquoted. */
const HOSTILE_QUERIES = [
  '"',
  '""',
  '"unterminated phrase',
  'milk"',
  '*',
  'mil*',
  '^milk',
  'NEAR(',
  'NEAR(milk bread, 2)',
  'NEAR',
  '-milk',
  'milk -bread',
  'milk AND',
  'OR',
  'AND NOT',
  'text:milk',
  'tags:',
  '{text tags}: milk',
  '(',
  ')',
  'milk)',
  '+',
  "'; DROP TABLE notes; --",
  '\u0000milk',
  '"'.repeat(1000),
  'NEAR('.repeat(200),
];

describe('NoteStore', () => {
  it('stores notes and finds them by any word of the text or tags, best match first', () => {
    using store = NoteStore.open(path, { now: fixedClock });
    const milk = store.store('buy milk and bread', ['shopping']);
    const both = store.store('milk milk milk, and more milk', []);
    store.store('call the plumber', ['house']);
    const byText = store.search('milk', 10);
    expect(byText.notes.map((note) => note.id)).toEqual([both, milk]);
    expect(byText.truncated).toBe(false);
    expect(store.search('shopping', 10).notes).toEqual([{ id: milk, text: 'buy milk and bread', tags: ['shopping'], createdAt: '2026-11-23T10:00:00.000Z' }]);
    expect(store.search('plumber house', 10).notes).toHaveLength(1);
    expect(store.search('nothing-like-this', 10).notes).toEqual([]);
  });

  it('treats every hostile query as plain words: no FTS5 syntax error, no operator, the store intact', () => {
    using store = NoteStore.open(path);
    const milk = store.store('milk', []);
    const bread = store.store('bread', []);
    for (const query of HOSTILE_QUERIES) {
      expect(() => store.search(query, 10), query).not.toThrow();
    }
    // The operators would have excluded or required words; quoted, they are just words.
    expect(store.search('-milk', 10).notes.map((note) => note.id)).toEqual([milk]);
    expect(store.search('milk NOT bread', 10).notes.map((note) => note.id).sort()).toEqual([milk, bread].sort());
    expect(store.search('mil*', 10).notes).toEqual([]);
    expect(store.search("'; DROP TABLE notes; --", 10).notes).toEqual([]);
    expect(store.search('milk', 10).notes).toHaveLength(1);
  });

  it('matches regardless of case and accents, and whole words only', () => {
    using store = NoteStore.open(path);
    const id = store.store('Meeting at the Café on Friday', ['Cats']);
    expect(store.search('cafe', 10).notes.map((note) => note.id)).toEqual([id]);
    expect(store.search('FRIDAY', 10).notes.map((note) => note.id)).toEqual([id]);
    expect(store.search('cats', 10).notes.map((note) => note.id)).toEqual([id]);
    expect(store.search('cat', 10).notes).toEqual([]);
  });

  it('matches nothing for a query with no words', () => {
    using store = NoteStore.open(path);
    store.store('anything', []);
    expect(store.search('"*^-()', 10)).toEqual({ notes: [], truncated: false });
  });

  it('stores hostile text and tags as data', () => {
    using store = NoteStore.open(path);
    const text = `'); DROP TABLE notes; -- "NEAR(" \u0000 ☃`;
    const id = store.store(text, ['"quoted"', 'x) OR (y']);
    expect(store.search('DROP', 10).notes).toEqual([expect.objectContaining({ id, text, tags: ['"quoted"', 'x) OR (y'] })]);
  });

  it('returns at most limit notes and says when more matched', () => {
    using store = NoteStore.open(path);
    for (let index = 0; index < 5; index += 1) store.store(`note ${String(index)} about cats`, []);
    expect(store.search('cats', 3)).toMatchObject({ truncated: true, notes: { length: 3 } });
    expect(store.search('cats', 5)).toMatchObject({ truncated: false, notes: { length: 5 } });
  });

  it('stops at the reply budget but always returns the best match', () => {
    using store = NoteStore.open(path, { replyBudgetBytes: 1000 });
    const big = 'cats '.repeat(400);
    store.store(big, []);
    store.store(big, []);
    const result = store.search('cats', 10);
    expect(result.notes).toHaveLength(1);
    expect(result.truncated).toBe(true);
  });

  it('deletes a note from the table and the index, and never hands its id out again', () => {
    using store = NoteStore.open(path);
    store.store('first', []);
    const second = store.store('second note', []);
    expect(store.delete(second)).toBe(true);
    expect(store.delete(second)).toBe(false);
    expect(store.delete(999)).toBe(false);
    expect(store.search('second', 10).notes).toEqual([]);
    expect(store.store('third', [])).toBeGreaterThan(second);
  });

  it('keeps notes across reopening, in write-ahead-log mode', () => {
    const id = (() => {
      using store = NoteStore.open(path);
      return store.store('persistent fact', ['kept']);
    })();
    using reopened = NoteStore.open(path);
    expect(reopened.search('persistent', 10).notes.map((note) => note.id)).toEqual([id]);
    const raw = new Database(path, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      raw.close();
    }
  });

  it('refuses to grow the database past maxBytes, and keeps working for what fits', () => {
    using store = NoteStore.open(path, { maxBytes: 256 * 1024 });
    let full: unknown;
    try {
      for (let index = 0; index < 1000; index += 1) store.store(`${String(index)} ${'x'.repeat(4000)}`, []);
    } catch (error) {
      full = error;
    }
    expect(full).toMatchObject({ code: 'SQLITE_FULL' });
    expect(store.search('0', 1).notes).toHaveLength(1);
  });

  it('refuses a database with a schema version it does not know', () => {
    const raw = new Database(path);
    raw.pragma('user_version = 7');
    raw.close();
    expect(() => NoteStore.open(path)).toThrow(/schema version 7/);
  });
});
