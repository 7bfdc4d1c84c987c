/**
 * Turns a caller's search text into an FTS5 query that can only ever mean "any of these words".
 *
 * The text is untrusted: passed to MATCH as is, `"` opens a string FTS5 then finds unterminated,
 * `NEAR(`, `AND`, `*`, `^`, `-` and `col:` are operators, and each malformed use is an SQLite error
 * (or a different query than the caller asked for). So the text is split into runs of letters,
 * digits and combining marks, which is what FTS5's unicode61 tokenizer indexes anyway; everything
 * else is a separator. Each word becomes a quoted string (quotes doubled, though a word cannot
 * contain one), and the words are joined with OR, so ranking puts the notes with most matches first.
 */

/** More words than this add little to ranking and make each query slower. */
export const MAX_QUERY_WORDS = 32;

const WORD = /[\p{L}\p{N}\p{M}]+/gu;

/** The FTS5 expression for `text`, or `undefined` when it holds no word to search for. */
export function toFtsQuery(text: string): string | undefined {
  const words = [...new Set(text.match(WORD) ?? [])].slice(0, MAX_QUERY_WORDS);
  if (words.length === 0) return undefined;
  return words.map((word) => `"${word.replaceAll('"', '""')}"`).join(' OR ');
}
