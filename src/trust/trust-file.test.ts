import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readTrustFile, writeTrustFile } from './trust-file.js';

describe('trust files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'carapace-trust-file-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('replaces a file whole, 0600, and leaves no temp file behind', async () => {
    const file = join(dir, 'policy.json');
    await writeTrustFile(file, 'old');
    await writeTrustFile(file, 'new');
    expect(await readTrustFile(file)).toBe('new');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['policy.json']);
  });

  it('a cache write (not durable) still replaces the file whole, 0600, with no temp file left', async () => {
    const file = join(dir, 'verified.json');
    await writeTrustFile(file, 'old', { durable: false });
    await writeTrustFile(file, 'new', { durable: false });
    expect(await readTrustFile(file)).toBe('new');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['verified.json']);
  });

  it('exclusive writes never replace an existing file and say EEXIST', async () => {
    const file = join(dir, 'key.pem');
    await writeTrustFile(file, 'first', { exclusive: true });
    await expect(writeTrustFile(file, 'second', { exclusive: true })).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readFile(file, 'utf8')).toBe('first');
    expect(await readdir(dir)).toEqual(['key.pem']);
  });

  it('a failed write leaves the old file and no temp file (HOME_UNAVAILABLE)', async () => {
    const file = join(dir, 'policy.json');
    await writeTrustFile(file, 'old');
    // A directory where the file should be: rename(2) cannot replace it.
    const blocked = join(dir, 'blocked');
    await mkdir(blocked);
    await writeFile(join(blocked, 'x'), '');
    await expect(writeTrustFile(blocked, 'new')).rejects.toMatchObject({ code: 'HOME_UNAVAILABLE' });
    expect((await readdir(dir)).sort()).toEqual(['blocked', 'policy.json']);
    expect(await readTrustFile(file)).toBe('old');
  });

  it('refuses a file owned by someone else, one others can write, and a secret others can read', async () => {
    const file = join(dir, 'f');
    await writeFile(file, 'x', { mode: 0o600 });
    const uid = process.getuid?.() ?? 0;
    await expect(readTrustFile(file, { uid: uid + 1 })).rejects.toMatchObject({ code: 'HOME_INSECURE' });
    await writeFile(join(dir, 'g'), 'x', { mode: 0o644 });
    expect(await readTrustFile(join(dir, 'g'))).toBe('x');
    await expect(readTrustFile(join(dir, 'g'), { secret: true })).rejects.toMatchObject({ code: 'HOME_INSECURE' });
    await writeFile(join(dir, 'w'), 'x');
    await chmod(join(dir, 'w'), 0o666);
    await expect(readTrustFile(join(dir, 'w'))).rejects.toMatchObject({ code: 'HOME_INSECURE' });
    await expect(readTrustFile(dir)).rejects.toMatchObject({ code: 'HOME_INSECURE' });
  });
});
