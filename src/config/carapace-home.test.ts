import { chmod, chown, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CarapaceError } from '../errors.js';
import { ensureCarapaceHome, homeLayout, inspectOwnerOnlyDirectory, resolveCarapaceHome } from './carapace-home.js';

const OTHER_UID = 4242;

let scratch: string;
beforeEach(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'carapace-home-'));
});
afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function refusal(home: string): Promise<CarapaceError> {
  const error: unknown = await ensureCarapaceHome(home).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof CarapaceError)) throw new Error(`expected a CarapaceError, got ${String(error)}`);
  return error;
}

describe('resolveCarapaceHome', () => {
  it('prefers --home, then CARAPACE_HOME, then ~/.carapace', () => {
    const env = { CARAPACE_HOME: '/env/home' };
    expect(resolveCarapaceHome({ flag: '/flag/home', env, homedir: '/users/a' })).toBe('/flag/home');
    expect(resolveCarapaceHome({ flag: undefined, env, homedir: '/users/a' })).toBe('/env/home');
    expect(resolveCarapaceHome({ flag: undefined, env: {}, homedir: '/users/a' })).toBe('/users/a/.carapace');
  });

  it('treats an empty CARAPACE_HOME as unset and makes relative paths absolute', () => {
    expect(resolveCarapaceHome({ flag: undefined, env: { CARAPACE_HOME: '' }, homedir: '/u' })).toBe('/u/.carapace');
    expect(resolveCarapaceHome({ flag: 'rel/home', env: {}, homedir: '/u', cwd: '/work' })).toBe('/work/rel/home');
  });

  it('fails with HOME_UNAVAILABLE when there is nowhere to put it', () => {
    expect(() => resolveCarapaceHome({ flag: undefined, env: {}, homedir: '' })).toThrow(
      expect.objectContaining({ code: 'HOME_UNAVAILABLE' }),
    );
  });
});

describe('ensureCarapaceHome', () => {
  it('creates the home and its subdirectories 0700 even under a permissive umask', async () => {
    const home = join(scratch, 'nested', 'home');
    const previous = process.umask(0o000);
    try {
      await ensureCarapaceHome(home);
    } finally {
      process.umask(previous);
    }
    const layout = homeLayout(home);
    for (const dir of [home, layout.credentials, layout.run, layout.sockets, layout.logs, layout.trustDir, layout.bundlesDir]) {
      expect(((await lstat(dir)).mode & 0o777).toString(8)).toBe('700');
    }
  });

  it('restores owner access a restrictive umask removed from new directories', async () => {
    const home = join(scratch, 'home');
    const previous = process.umask(0o277);
    try {
      await ensureCarapaceHome(home);
    } finally {
      process.umask(previous);
    }
    expect((await lstat(homeLayout(home).credentials)).mode & 0o777).toBe(0o700);
  });

  it('accepts an existing secure home twice over', async () => {
    const home = join(scratch, 'home');
    await ensureCarapaceHome(home);
    await expect(ensureCarapaceHome(home)).resolves.toEqual(homeLayout(home));
  });

  it('refuses a symlinked home without following it', async () => {
    const real = join(scratch, 'real');
    await mkdir(real, { mode: 0o700 });
    const link = join(scratch, 'link');
    await symlink(real, link);
    const error = await refusal(link);
    expect(error.code).toBe('HOME_INSECURE');
    expect(error.message).toContain(link);
    expect(error.message).toMatch(/symbolic link/);
    // Nothing was created through the link.
    await expect(lstat(join(real, 'credentials'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses a symlinked subdirectory', async () => {
    const home = join(scratch, 'home');
    await mkdir(home, { mode: 0o700 });
    await symlink(scratch, join(home, 'credentials'));
    const error = await refusal(home);
    expect(error.code).toBe('HOME_INSECURE');
    expect(error.message).toContain(join(home, 'credentials'));
  });

  it('refuses a group-readable home and says so, leaving its mode alone', async () => {
    const home = join(scratch, 'home');
    await mkdir(home);
    await chmod(home, 0o750);
    const error = await refusal(home);
    expect(error.code).toBe('HOME_INSECURE');
    expect(error.message).toContain(home);
    expect(error.message).toMatch(/0750/);
    expect((await lstat(home)).mode & 0o777).toBe(0o750);
  });

  it('refuses a home owned by another user', async () => {
    const home = join(scratch, 'home');
    await mkdir(home, { mode: 0o700 });
    await chown(home, OTHER_UID, OTHER_UID);
    const error = await refusal(home);
    expect(error.code).toBe('HOME_INSECURE');
    expect(error.message).toMatch(new RegExp(`uid ${OTHER_UID}`));
  });

  it('refuses a file where the home should be', async () => {
    const home = join(scratch, 'file');
    await writeFile(home, '');
    const error = await refusal(home);
    expect(error.code).toBe('HOME_INSECURE');
    expect(error.message).toMatch(/not a directory/);
  });
});

describe('inspectOwnerOnlyDirectory', () => {
  it('passes an owner-only directory and explains every failure', async () => {
    const dir = join(scratch, 'dir');
    await mkdir(dir, { mode: 0o700 });
    expect(await inspectOwnerOnlyDirectory(dir)).toEqual({ ok: true, reason: 'owner-only directory (0700)' });

    await chmod(dir, 0o705);
    expect(await inspectOwnerOnlyDirectory(dir)).toMatchObject({ ok: false, problem: 'too-open' });
    await chmod(dir, 0o500);
    expect(await inspectOwnerOnlyDirectory(dir)).toMatchObject({ ok: false, problem: 'owner-lacks-access' });
    expect(await inspectOwnerOnlyDirectory(join(scratch, 'absent'))).toMatchObject({ ok: false, problem: 'missing' });
    expect(await inspectOwnerOnlyDirectory(dir, OTHER_UID)).toMatchObject({ ok: false, problem: 'foreign-owner' });
  });
});
