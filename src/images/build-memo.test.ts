import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileFingerprint, memoKey, recallOrDerive, type BuildMemo, type Memoized } from './build-memo.js';

class MapMemo implements BuildMemo {
  readonly entries = new Map<string, string>();
  recall(key: string): string | undefined {
    return this.entries.get(key);
  }
  remember(key: string, value: string): void {
    this.entries.set(key, value);
  }
}

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'carapace-memo-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A derivation that lists a directory and reads nothing else, counting how often it runs. */
function listing(dir: string): Memoized<string[]> & { runs: number } {
  const memoized = {
    runs: 0,
    key: memoKey('test-listing', [dir]),
    derive: async (observe: (path: string) => void) => {
      memoized.runs += 1;
      observe(dir);
      return (await readdir(dir)).sort();
    },
    encode: (value: string[]) => value,
    decode: (json: unknown) => (Array.isArray(json) && json.every((item) => typeof item === 'string') ? json : undefined),
  };
  return memoized;
}

describe('fileFingerprint', () => {
  it('changes when a file is rewritten, even with the same size and its mtime set back', async () => {
    const file = join(work, 'input');
    await writeFile(file, 'aaaa');
    const before = fileFingerprint(file);
    const { mtime } = await stat(file);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await writeFile(file, 'bbbb');
    await utimes(file, mtime, mtime);
    expect(fileFingerprint(file)).not.toBe(before);
  });

  it('is undefined for a path that does not exist', () => {
    expect(fileFingerprint(join(work, 'absent'))).toBeUndefined();
  });
});

describe('recallOrDerive', () => {
  it('answers from the memo while nothing observed changed, and derives again once something did', async () => {
    await writeFile(join(work, 'a'), '');
    const memo = new MapMemo();
    const memoized = listing(work);
    expect(await recallOrDerive(memo, memoized)).toEqual(['a']);
    expect(await recallOrDerive(memo, memoized)).toEqual(['a']);
    expect(memoized.runs).toBe(1);

    await writeFile(join(work, 'b'), '');
    expect(await recallOrDerive(memo, memoized)).toEqual(['a', 'b']);
    expect(memoized.runs).toBe(2);
  });

  it('treats an observed path that appears as a change', async () => {
    const memo = new MapMemo();
    const dir = join(work, 'later');
    const memoized = { ...listing(work), derive: async (observe: (path: string) => void) => (observe(dir), ['derived']) };
    await recallOrDerive(memo, memoized);
    const [remembered] = memo.entries.values();
    expect(JSON.parse(remembered ?? '{}').observed).toEqual([[dir, 'absent']]);
    await mkdir(dir);
    const second = { ...memoized, derive: async () => ['again'] };
    expect(await recallOrDerive(memo, second)).toEqual(['again']);
  });

  it('derives (and overwrites) when the remembered value does not parse or decode', async () => {
    const memo = new MapMemo();
    const memoized = listing(work);
    memo.remember(memoized.key, 'not json');
    expect(await recallOrDerive(memo, memoized)).toEqual([]);
    memo.remember(memoized.key, JSON.stringify({ observed: [[work, fileFingerprint(work)]], value: 'not a list' }));
    expect(await recallOrDerive(memo, memoized)).toEqual([]);
    expect(memoized.runs).toBe(2);
    expect(JSON.parse(memo.recall(memoized.key) ?? '{}').value).toEqual([]);
  });

  it('does not remember an answer whose inputs changed while it was derived', async () => {
    const memo = new MapMemo();
    const memoized = listing(work);
    const racing = {
      ...memoized,
      derive: async (observe: (path: string) => void) => {
        const value = await memoized.derive(observe);
        await writeFile(join(work, 'written-meanwhile'), '');
        return value;
      },
    };
    expect(await recallOrDerive(memo, racing)).toEqual([]);
    expect(memo.entries.size).toBe(0);
  });

  it('derives every time without a memo', async () => {
    const memoized = listing(work);
    await recallOrDerive(undefined, memoized);
    await recallOrDerive(undefined, memoized);
    expect(memoized.runs).toBe(2);
  });
});
