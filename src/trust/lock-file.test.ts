import { lstat, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bundlePathFor, EMPTY_LOCK, loadLockFile, parseLockFile, pinOf, saveLockFile, toRepository, updateLockFile, withPin, type PinnedImage } from './lock-file.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const OTHER = `sha256:${'b'.repeat(64)}`;
const PIN: PinnedImage = { image: 'localhost/carapace/plugin-echo', digest: DIGEST, bundle: bundlePathFor(DIGEST), pinnedAt: '2026-01-02T03:04:05.000Z' };

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'carapace-lock-'));
  file = join(dir, 'carapace.lock');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseLockFile', () => {
  it('accepts a lock with pins and derives the bundle path from the digest', () => {
    expect(bundlePathFor(DIGEST)).toBe(`bundles/sha256-${'a'.repeat(64)}.sigstore.json`);
    const lock = parseLockFile({ version: 1, plugins: { echo: PIN } }, file);
    expect(pinOf(lock, 'echo')).toEqual(PIN);
    expect(pinOf(lock, 'constructor')).toBeUndefined();
  });

  it.each([
    ['a tag in the image', { ...PIN, image: 'localhost/carapace/plugin-echo:latest' }, 'plugins.echo.image'],
    ['a digest that is not sha256', { ...PIN, digest: `sha512:${'a'.repeat(128)}` }, 'plugins.echo.digest'],
    ['upper-case hex', { ...PIN, digest: `sha256:${'A'.repeat(64)}` }, 'plugins.echo.digest'],
    ['a bundle path outside bundles/', { ...PIN, bundle: '../../etc/passwd' }, 'plugins.echo.bundle'],
    ["another digest's bundle", { ...PIN, bundle: bundlePathFor(OTHER) }, 'plugins.echo.bundle'],
    ['a date that is not ISO', { ...PIN, pinnedAt: 'yesterday' }, 'plugins.echo.pinnedAt'],
    ['an unknown field', { ...PIN, tag: 'latest' }, 'plugins.echo'],
  ])('refuses %s with LOCK_INVALID naming the field', (_name, pin, field) => {
    expect(() => parseLockFile({ version: 1, plugins: { echo: pin } }, file)).toThrow(
      expect.objectContaining({ code: 'LOCK_INVALID', details: expect.objectContaining({ file, problems: [expect.stringContaining(field)] }) }),
    );
  });

  it('refuses another version, a bad plugin name and a non-object', () => {
    for (const json of [{ version: 2, plugins: {} }, { version: 1, plugins: { 'Bad Name': PIN } }, [], null]) {
      expect(() => parseLockFile(json, file)).toThrow(expect.objectContaining({ code: 'LOCK_INVALID' }));
    }
  });
});

describe('toRepository', () => {
  it('drops the tag and the digest, and keeps a registry port', () => {
    expect(toRepository('localhost/x/y:1.0')).toBe('localhost/x/y');
    expect(toRepository(`localhost:5000/x/y@${DIGEST}`)).toBe('localhost:5000/x/y');
    expect(toRepository(`127.0.0.1:5000/x/y:tag@${DIGEST}`)).toBe('127.0.0.1:5000/x/y');
    expect(toRepository('x/y')).toBe('x/y');
  });
});

describe('loadLockFile and saveLockFile', () => {
  it('reads a missing lock as empty, and round-trips a saved one at mode 0600', async () => {
    expect(await loadLockFile(file)).toEqual(EMPTY_LOCK);
    await saveLockFile(file, withPin(withPin(EMPTY_LOCK, 'memory', { ...PIN, image: 'localhost/carapace/plugin-memory' }), 'echo', PIN));
    expect((await lstat(file)).mode & 0o777).toBe(0o600);
    expect(Object.keys(JSON.parse(await readFile(file, 'utf8')).plugins)).toEqual(['echo', 'memory']);
    expect(pinOf(await loadLockFile(file), 'echo')).toEqual(PIN);
  });

  it('refuses a lock that is not JSON, and one with a bad field', async () => {
    await writeFile(file, '{"version": 1,');
    await expect(loadLockFile(file)).rejects.toMatchObject({ code: 'LOCK_INVALID', details: { file } });
    await writeFile(file, JSON.stringify({ version: 1, plugins: { echo: { ...PIN, digest: 'sha256:abc' } } }));
    await expect(loadLockFile(file)).rejects.toMatchObject({ code: 'LOCK_INVALID' });
  });

  it('refuses a symlink planted at the lock path, for reading; writing replaces the link, not its target', async () => {
    const target = join(dir, 'elsewhere.json');
    await writeFile(target, JSON.stringify({ version: 1, plugins: { echo: PIN } }));
    await symlink(target, file);
    await expect(loadLockFile(file)).rejects.toMatchObject({ code: 'HOME_INSECURE' });
    await saveLockFile(file, EMPTY_LOCK);
    expect(JSON.parse(await readFile(target, 'utf8')).plugins.echo).toEqual(PIN);
    expect((await lstat(file)).isSymbolicLink()).toBe(false);
  });

  it('never writes an invalid lock, and leaves no temp file behind', async () => {
    await saveLockFile(file, withPin(EMPTY_LOCK, 'echo', PIN));
    await expect(saveLockFile(file, withPin(EMPTY_LOCK, 'echo', { ...PIN, digest: 'sha256:short' }))).rejects.toMatchObject({ code: 'LOCK_INVALID' });
    expect(pinOf(await loadLockFile(file), 'echo')).toEqual(PIN);
    expect(await readdir(dir)).toEqual(['carapace.lock']);
  });
});

describe('updateLockFile', () => {
  it('applies concurrent updates one after another, losing none', async () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    await Promise.all(names.map((name) => updateLockFile(file, (lock) => withPin(lock, name, PIN))));
    expect(Object.keys((await loadLockFile(file)).plugins).sort()).toEqual(names);
    expect(await readdir(dir)).toEqual(['carapace.lock']);
  });

  it('leaves the lock as it was when the change throws, and releases the guard', async () => {
    await saveLockFile(file, withPin(EMPTY_LOCK, 'echo', PIN));
    await expect(updateLockFile(file, () => Promise.reject(new Error('step failed')))).rejects.toThrow('step failed');
    expect(pinOf(await loadLockFile(file), 'echo')).toEqual(PIN);
    await updateLockFile(file, (lock) => withPin(lock, 'memory', PIN));
    expect(Object.keys((await loadLockFile(file)).plugins)).toEqual(['echo', 'memory']);
  });

  it('takes over a guard a crashed writer left (older than 30 s)', async () => {
    await writeFile(`${file}.guard`, '');
    const old = new Date(Date.now() - 60_000);
    await utimes(`${file}.guard`, old, old);
    await updateLockFile(file, (lock) => withPin(lock, 'echo', PIN));
    expect(pinOf(await loadLockFile(file), 'echo')).toEqual(PIN);
    expect(await readdir(dir)).toEqual(['carapace.lock']);
  });

  it('waits for a guard another process holds', async () => {
    await writeFile(`${file}.guard`, '');
    const update = updateLockFile(file, (lock) => withPin(lock, 'echo', PIN));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await loadLockFile(file)).toEqual(EMPTY_LOCK);
    await rm(`${file}.guard`);
    await update;
    expect(pinOf(await loadLockFile(file), 'echo')).toEqual(PIN);
  });
});
