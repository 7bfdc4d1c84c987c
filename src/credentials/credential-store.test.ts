import { execFileSync } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCredentialStore, type CredentialStore } from './credential-store.js';

const OTHER_UID = 4242;

async function tempHome(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'carapace-cred-'));
}

async function freshStore(): Promise<{ home: string; root: string; store: CredentialStore }> {
  const home = await tempHome();
  const root = join(home, 'credentials');
  return { home, root, store: await openCredentialStore(root) };
}

const mode = async (path: string): Promise<number> => (await lstat(path)).mode & 0o777;
const code = (code: string): unknown => expect.objectContaining({ code });

describe('CredentialStore', () => {
  it('stores one owner-only file per plugin per credential, and reads back only what is asked', async () => {
    const previous = process.umask(0);
    try {
      const { root, store } = await freshStore();
      await store.set('github', 'API_TOKEN', 'ghp_secret_value');
      await store.set('github', 'OTHER', 'other-value');
      expect(await mode(root)).toBe(0o700);
      expect(await mode(join(root, 'github'))).toBe(0o700);
      expect(await mode(join(root, 'github', 'API_TOKEN'))).toBe(0o600);
      expect(await readFile(join(root, 'github', 'API_TOKEN'), 'utf8')).toBe('ghp_secret_value');

      const credentials = await store.credentialsFor('github', ['API_TOKEN']);
      expect(Object.keys(credentials)).toEqual(['API_TOKEN']);
      expect(credentials['API_TOKEN']).toBe('ghp_secret_value');
      expect(Object.isFrozen(credentials)).toBe(true);
      expect(await store.credentialsFor('github', [])).toEqual({});
    } finally {
      process.umask(previous);
    }
  });

  it('replaces a value atomically and removes it', async () => {
    const { root, store } = await freshStore();
    await store.set('echo', 'TOKEN', 'first');
    await store.set('echo', 'TOKEN', 'second');
    expect((await store.credentialsFor('echo', ['TOKEN']))['TOKEN']).toBe('second');
    expect(await readdir(join(root, 'echo'))).toEqual(['TOKEN']);
    await store.remove('echo', 'TOKEN');
    await expect(store.remove('echo', 'TOKEN')).rejects.toEqual(code('CREDENTIAL_MISSING'));
    await expect(store.credentialsFor('echo', ['TOKEN'])).rejects.toEqual(code('CREDENTIAL_MISSING'));
  });

  it('reports names and presence, never values', async () => {
    const { root, store } = await freshStore();
    await store.set('memory', 'DB_KEY', 'value-one');
    await store.set('echo', 'TOKEN', 'value-two');
    // Leftovers that are not credentials: a temp file from a crash, a stray file, a bad plugin name.
    await writeFile(join(root, 'echo', '.TOKEN.0123.tmp'), 'x', { mode: 0o600 });
    await writeFile(join(root, 'echo', 'notes.txt'), 'x', { mode: 0o600 });
    await mkdir(join(root, 'Not-A-Plugin'), { mode: 0o700 });
    expect(await store.status()).toEqual([
      { plugin: 'echo', name: 'TOKEN', present: true },
      { plugin: 'memory', name: 'DB_KEY', present: true },
    ]);
    expect(await store.status('memory', ['DB_KEY', 'API_TOKEN'])).toEqual([
      { plugin: 'memory', name: 'API_TOKEN', present: false },
      { plugin: 'memory', name: 'DB_KEY', present: true },
    ]);
    expect(await store.status('nothing-yet', ['TOKEN'])).toEqual([{ plugin: 'nothing-yet', name: 'TOKEN', present: false }]);
    expect(JSON.stringify(await store.status())).not.toContain('value-');
    expect((await store.allValues()).sort()).toEqual(['value-one', 'value-two']);
  });

  it('names the plugin and every missing credential', async () => {
    const { store } = await freshStore();
    await store.set('echo', 'PRESENT', 'value');
    await expect(store.credentialsFor('echo', ['PRESENT', 'GONE', 'ALSO_GONE'])).rejects.toEqual(
      expect.objectContaining({ code: 'CREDENTIAL_MISSING', details: { plugin: 'echo', names: ['GONE', 'ALSO_GONE'] } }),
    );
  });
});

describe('CredentialStore isolation', () => {
  it('gives a plugin its own credentials only, whatever names it is asked for', async () => {
    const { root, store } = await freshStore();
    await store.set('alpha', 'TOKEN', 'alpha-token');
    await store.set('beta', 'TOKEN', 'beta-token');
    await store.set('beta', 'SECRET', 'beta-secret');
    expect(await store.credentialsFor('alpha', ['TOKEN'])).toEqual({ TOKEN: 'alpha-token' });
    await expect(store.credentialsFor('alpha', ['SECRET'])).rejects.toEqual(code('CREDENTIAL_MISSING'));
    for (const crafted of ['../beta/SECRET', '../beta/TOKEN', 'TOKEN/../../beta/SECRET', '/etc/passwd', `${root}/beta/SECRET`]) {
      await expect(store.credentialsFor('alpha', [crafted])).rejects.toEqual(code('CREDENTIAL_NAME_INVALID'));
    }
    for (const crafted of ['alpha/../beta', '../credentials/beta', 'alpha/..', '.', '..']) {
      await expect(store.credentialsFor(crafted, ['SECRET'])).rejects.toEqual(code('CREDENTIAL_NAME_INVALID'));
    }
  });

  it('refuses traversal and malformed names before they reach the filesystem', async () => {
    const { home, store } = await freshStore();
    const badPlugins = ['..', '.', '../x', 'a/b', 'a\0b', 'Echo', '', 'a'.repeat(65), '-x', 'a.b', 'é'];
    const badNames = ['..', '../TOKEN', 'A/B', 'A\0B', 'token', '', '.TOKEN', 'A'.repeat(65), 'A-B', '1TOKEN'];
    for (const plugin of badPlugins) {
      await expect(store.set(plugin, 'TOKEN', 'v')).rejects.toEqual(code('CREDENTIAL_NAME_INVALID'));
      await expect(store.credentialsFor(plugin, ['TOKEN'])).rejects.toEqual(code('CREDENTIAL_NAME_INVALID'));
      await expect(store.remove(plugin, 'TOKEN')).rejects.toEqual(code('CREDENTIAL_NAME_INVALID'));
      await expect(store.status(plugin)).rejects.toEqual(code('CREDENTIAL_NAME_INVALID'));
    }
    for (const name of badNames) {
      await expect(store.set('echo', name, 'v')).rejects.toEqual(code('CREDENTIAL_NAME_INVALID'));
      await expect(store.credentialsFor('echo', [name])).rejects.toEqual(code('CREDENTIAL_NAME_INVALID'));
      await expect(store.remove('echo', name)).rejects.toEqual(code('CREDENTIAL_NAME_INVALID'));
      await expect(store.status('echo', [name])).rejects.toEqual(code('CREDENTIAL_NAME_INVALID'));
    }
    expect(await readdir(home)).toEqual(['credentials']);
    expect(await readdir(join(home, 'credentials'))).toEqual([]);
  });
});

describe('CredentialStore refusals', () => {
  it('refuses a root that is a symlink, too open, or not ours', async () => {
    const home = await tempHome();
    await mkdir(join(home, 'real'), { mode: 0o700 });
    await symlink(join(home, 'real'), join(home, 'linked'));
    await expect(openCredentialStore(join(home, 'linked'))).rejects.toEqual(code('CREDENTIAL_INSECURE'));

    await mkdir(join(home, 'open'), { mode: 0o700 });
    await chmod(join(home, 'open'), 0o755);
    await expect(openCredentialStore(join(home, 'open'))).rejects.toEqual(code('CREDENTIAL_INSECURE'));
    expect(await mode(join(home, 'open'))).toBe(0o755);

    await mkdir(join(home, 'foreign'), { mode: 0o700 });
    await chown(join(home, 'foreign'), OTHER_UID, OTHER_UID);
    await expect(openCredentialStore(join(home, 'foreign'))).rejects.toEqual(code('CREDENTIAL_INSECURE'));

    await writeFile(join(home, 'file'), '');
    await expect(openCredentialStore(join(home, 'file'))).rejects.toEqual(code('CREDENTIAL_INSECURE'));
  });

  it('notices a root that became insecure after it was opened', async () => {
    const { root, store } = await freshStore();
    await chmod(root, 0o750);
    await expect(store.credentialsFor('echo', ['TOKEN'])).rejects.toEqual(code('CREDENTIAL_INSECURE'));
  });

  it('refuses a symlinked plugin directory for reading and writing', async () => {
    const { home, root, store } = await freshStore();
    await mkdir(join(home, 'elsewhere'), { mode: 0o700 });
    await writeFile(join(home, 'elsewhere', 'TOKEN'), 'planted', { mode: 0o600 });
    await symlink(join(home, 'elsewhere'), join(root, 'echo'));
    await expect(store.credentialsFor('echo', ['TOKEN'])).rejects.toEqual(code('CREDENTIAL_INSECURE'));
    await expect(store.set('echo', 'TOKEN', 'new')).rejects.toEqual(code('CREDENTIAL_INSECURE'));
    await expect(store.remove('echo', 'TOKEN')).rejects.toEqual(code('CREDENTIAL_INSECURE'));
    await expect(store.status()).rejects.toEqual(code('CREDENTIAL_INSECURE'));
    expect(await readFile(join(home, 'elsewhere', 'TOKEN'), 'utf8')).toBe('planted');
  });

  it('refuses a credential file that is a symlink, too open, not ours or not a file, and fixes nothing', async () => {
    const { home, root, store } = await freshStore();
    await store.set('echo', 'PLACEHOLDER', 'x-value');
    const directory = join(root, 'echo');
    await writeFile(join(home, 'target'), 'planted', { mode: 0o600 });
    await symlink(join(home, 'target'), join(directory, 'LINKED'));
    await writeFile(join(directory, 'OPEN'), 'value', { mode: 0o644 });
    await chmod(join(directory, 'OPEN'), 0o644);
    await writeFile(join(directory, 'FOREIGN'), 'value', { mode: 0o600 });
    await chown(join(directory, 'FOREIGN'), OTHER_UID, OTHER_UID);
    await writeFile(join(directory, 'EXECUTABLE'), 'value', { mode: 0o700 });
    await mkdir(join(directory, 'A_DIRECTORY'), { mode: 0o700 });
    execFileSync('mkfifo', ['-m', '0600', join(directory, 'A_FIFO')]);

    const cases: Record<string, RegExp> = {
      LINKED: /symlink/,
      OPEN: /mode 0644/,
      FOREIGN: /owned by uid 4242/,
      EXECUTABLE: /mode 0700/,
      A_DIRECTORY: /not a regular file/,
      A_FIFO: /not a regular file/,
    };
    for (const [name, problem] of Object.entries(cases)) {
      const path = join(directory, name);
      await expect(store.credentialsFor('echo', [name])).rejects.toEqual(
        expect.objectContaining({ code: 'CREDENTIAL_INSECURE', details: { path, problem: expect.stringMatching(problem) } }),
      );
    }
    await expect(store.allValues()).rejects.toEqual(code('CREDENTIAL_INSECURE'));
    await expect(store.status('echo')).rejects.toEqual(code('CREDENTIAL_INSECURE'));
    expect(await mode(join(directory, 'OPEN'))).toBe(0o644);
    expect((await stat(join(directory, 'FOREIGN'))).uid).toBe(OTHER_UID);
  });

  it('removes a symlink itself, never the file it points to', async () => {
    const { home, root, store } = await freshStore();
    await store.set('echo', 'PLACEHOLDER', 'x-value');
    await writeFile(join(home, 'target'), 'keep me', { mode: 0o600 });
    await symlink(join(home, 'target'), join(root, 'echo', 'LINKED'));
    await store.remove('echo', 'LINKED');
    expect(await readFile(join(home, 'target'), 'utf8')).toBe('keep me');
  });

  it('refuses values that are empty, hold NUL, are not Unicode or are too large, without echoing them', async () => {
    const { root, store } = await freshStore();
    for (const value of ['', 'sec\0ret', 'half\uD800', 'x'.repeat(64 * 1024 + 1)]) {
      const failure = store.set('echo', 'TOKEN', value);
      await expect(failure).rejects.toEqual(code('CREDENTIAL_VALUE_INVALID'));
      const error = await failure.catch((caught: Error) => caught);
      if (value.length > 0) expect(`${(error as Error).message}${JSON.stringify(error)}`).not.toContain(value.slice(0, 6));
    }
    expect(await readdir(root)).toEqual([]);
  });

  it('refuses a stored file that is not valid UTF-8 or too large', async () => {
    const { root, store } = await freshStore();
    await store.set('echo', 'PLACEHOLDER', 'x-value');
    await writeFile(join(root, 'echo', 'BAD_UTF8'), Buffer.from([0x66, 0xff, 0xfe]), { mode: 0o600 });
    await writeFile(join(root, 'echo', 'HUGE'), 'x'.repeat(64 * 1024 + 1), { mode: 0o600 });
    await expect(store.credentialsFor('echo', ['BAD_UTF8'])).rejects.toEqual(code('CREDENTIAL_VALUE_INVALID'));
    await expect(store.credentialsFor('echo', ['HUGE'])).rejects.toEqual(code('CREDENTIAL_VALUE_INVALID'));
  });

  it('leaves no temp file behind when a write fails', async () => {
    const { root, store } = await freshStore();
    await store.set('echo', 'KEPT', 'kept-value');
    // A directory where the file should go: the temp file is written, then rename fails.
    await mkdir(join(root, 'echo', 'TOKEN'), { mode: 0o700 });
    await expect(store.set('echo', 'TOKEN', 'new-value')).rejects.toEqual(code('CREDENTIAL_STORE_FAILED'));
    expect((await readdir(join(root, 'echo'))).sort()).toEqual(['KEPT', 'TOKEN']);
    expect(await readdir(join(root, 'echo', 'TOKEN'))).toEqual([]);
    expect((await store.credentialsFor('echo', ['KEPT']))['KEPT']).toBe('kept-value');
  });
});
