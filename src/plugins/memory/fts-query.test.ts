import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_QUERY_WORDS, toFtsQuery } from './fts-query.js';

let db: Database.Database;
beforeAll(() => {
  db = new Database(':memory:');
  db.exec("CREATE VIRTUAL TABLE t USING fts5(text, tags); INSERT INTO t VALUES ('milk bread', 'food'), ('near the house', '');");
});
afterAll(() => db.close());

const match = (expression: string): unknown[] => db.prepare('SELECT rowid FROM t WHERE t MATCH ?').all(expression);

describe('toFtsQuery', () => {
  it('quotes each word and joins them with OR', () => {
    expect(toFtsQuery('milk bread')).toBe('"milk" OR "bread"');
    expect(toFtsQuery('  Käse,  café!  ')).toBe('"Käse" OR "café"');
    expect(toFtsQuery('日本語 テキスト')).toBe('"日本語" OR "テキスト"');
  });

  it('keeps only letters, digits and marks, so no quote or operator character survives', () => {
    expect(toFtsQuery('"milk" NEAR(bread*, 2) -x ^y text:z')).toBe('"milk" OR "NEAR" OR "bread" OR "2" OR "x" OR "y" OR "text" OR "z"');
  });

  it('drops repeated words and caps their number', () => {
    expect(toFtsQuery('a a b a')).toBe('"a" OR "b"');
    const many = Array.from({ length: 100 }, (_, index) => `w${String(index)}`).join(' ');
    expect(toFtsQuery(many)?.split(' OR ')).toHaveLength(MAX_QUERY_WORDS);
  });

  it('has no query for text without words', () => {
    expect(toFtsQuery('')).toBeUndefined();
    expect(toFtsQuery('"*^-() ,.:')).toBeUndefined();
  });

  it('turns queries that break raw MATCH into ones SQLite accepts', () => {
    // The control: these are errors when passed to MATCH as they are.
    const broken = ['"', 'milk"', 'NEAR(', 'milk AND', '(', '*', 'text:', '-milk'];
    for (const query of broken) expect(() => match(query), query).toThrow();
    for (const query of broken) {
      const expression = toFtsQuery(query);
      if (expression !== undefined) expect(() => match(expression), query).not.toThrow();
    }
    expect(match(toFtsQuery('NEAR(') ?? '')).toEqual([{ rowid: 2 }]);
  });
});
