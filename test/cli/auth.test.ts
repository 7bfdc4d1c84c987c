import { lstat, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshHome } from '../support/run-cli-in-process.js';
import { runBuiltCli, runBuiltCliOnPty, runWithIo } from './cli-io.js';

const SECRET = 'ghp_Zq8sEcReT-value/with+chars';
const credentialFile = (home: string, plugin: string, name: string): string => join(home, 'credentials', plugin, name);
const errorOf = (stdout: string): { code: string; message: string } => (JSON.parse(stdout) as { error: { code: string; message: string } }).error;

describe('carapace auth set', () => {
  it('stores the value from a piped stdin, 0600, without ever printing it', async () => {
    const home = await freshHome();
    const run = await runWithIo(['--home', home, 'auth', 'set', 'github', 'API_TOKEN'], { stdin: `${SECRET}\n` });
    expect(run).toMatchObject({ status: 0, stdout: 'stored API_TOKEN for plugin github\n', stderr: '' });
    const file = credentialFile(home, 'github', 'API_TOKEN');
    expect(await readFile(file, 'utf8')).toBe(SECRET);
    expect((await lstat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, 'credentials', 'github'))).mode & 0o777).toBe(0o700);

    const json = await runWithIo(['--json', '--home', home, 'auth', 'set', 'github', 'API_TOKEN'], { stdin: 'replaced' });
    expect(JSON.parse(json.stdout)).toEqual({ plugin: 'github', name: 'API_TOKEN', stored: true });
    expect(await readFile(file, 'utf8')).toBe('replaced');
  });

  it('removes exactly one trailing newline (LF or CRLF) and keeps everything else', async () => {
    const home = await freshHome();
    const cases: Array<[string, string]> = [
      ['v\n\n', 'v\n'],
      ['v\r\n', 'v'],
      ['  spaced  ', '  spaced  '],
      ['-----BEGIN KEY-----\nabc\n-----END KEY-----\n', '-----BEGIN KEY-----\nabc\n-----END KEY-----'],
    ];
    for (const [input, stored] of cases) {
      expect((await runWithIo(['--home', home, 'auth', 'set', 'p', 'VALUE'], { stdin: input })).status).toBe(0);
      expect(await readFile(credentialFile(home, 'p', 'VALUE'), 'utf8')).toBe(stored);
    }
  });

  it.each([
    ['an empty stdin', ''],
    ['a lone newline', '\n'],
    ['bytes that are not UTF-8', Buffer.from([0x61, 0xff, 0xfe])],
    ['a NUL byte', 'a\u0000b'],
    ['a value over 64 KiB', 'x'.repeat(64 * 1024 + 3)],
  ])('refuses %s with CREDENTIAL_VALUE_INVALID and stores nothing', async (_what, input) => {
    const home = await freshHome();
    const run = await runWithIo(['--json', '--home', home, 'auth', 'set', 'github', 'API_TOKEN'], { stdin: input });
    expect(run.status).toBe(7);
    expect(errorOf(run.stdout).code).toBe('CREDENTIAL_VALUE_INVALID');
    await expect(lstat(credentialFile(home, 'github', 'API_TOKEN'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each([
    ['as a third argument', [SECRET]],
    ['as an option', [`--value=${SECRET}`]],
    ['as a short option', [`-${SECRET}`]],
    ['after --', ['--', SECRET]],
  ])('refuses a value given %s with CLI_USAGE, without echoing it or reading stdin', async (_what, extra) => {
    const home = await freshHome();
    for (const json of [false, true]) {
      const argv = [...(json ? ['--json'] : []), '--home', home, 'auth', 'set', 'github', 'API_TOKEN', ...extra];
      const run = await runWithIo(argv, { stdin: 'from-stdin' });
      expect(run.status).toBe(2);
      expect(json ? errorOf(run.stdout).code : run.stderr).toContain('CLI_USAGE');
      expect(run.stdout + run.stderr).not.toContain(SECRET);
    }
    await expect(lstat(join(home, 'credentials', 'github'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('does not echo a secret typed where the name belongs', async () => {
    const home = await freshHome();
    for (const argv of [['github', SECRET], [SECRET.toLowerCase(), 'API_TOKEN']]) {
      const run = await runWithIo(['--json', '--home', home, 'auth', 'set', ...argv], { stdin: 'x' });
      expect(run.status).toBe(7);
      expect(errorOf(run.stdout).code).toBe('CREDENTIAL_NAME_INVALID');
      expect(run.stdout.toLowerCase()).not.toContain(SECRET.toLowerCase());
    }
  });

  it('works the same through the built CLI with a real pipe', async () => {
    const home = await freshHome();
    const run = await runBuiltCli(['--home', home, 'auth', 'set', 'github', 'API_TOKEN'], `${SECRET}\n`);
    expect(run).toMatchObject({ code: 0, stdout: 'stored API_TOKEN for plugin github\n' });
    expect(run.stdout + run.stderr).not.toContain(SECRET);
    expect(await readFile(credentialFile(home, 'github', 'API_TOKEN'), 'utf8')).toBe(SECRET);
    const refused = await runBuiltCli(['--home', home, 'auth', 'set', 'github', 'API_TOKEN', SECRET]);
    expect(refused.code).toBe(2);
    expect(refused.stdout + refused.stderr).not.toContain(SECRET);
  });

  it('on a real terminal, prompts without echo and stores what was typed', async () => {
    const home = await freshHome();
    const typed = 'typed-Secret-42';
    const run = await runBuiltCliOnPty(['--home', home, 'auth', 'set', 'github', 'API_TOKEN'], 'not echoed', `${typed}\r`);
    expect(run.code).toBe(0);
    expect(run.screen).toContain('value for github API_TOKEN (not echoed): ');
    expect(run.screen).toContain('stored API_TOKEN for plugin github');
    expect(run.screen).not.toContain(typed);
    expect(await readFile(credentialFile(home, 'github', 'API_TOKEN'), 'utf8')).toBe(typed);
  });

  it('on a real terminal, Ctrl-C at the prompt stores nothing', async () => {
    const home = await freshHome();
    const run = await runBuiltCliOnPty(['--home', home, 'auth', 'set', 'github', 'API_TOKEN'], 'not echoed', 'half-typed\u0003');
    expect(run.code).toBe(7);
    expect(run.screen).toContain('[CREDENTIAL_VALUE_INVALID]');
    expect(run.screen).not.toContain('half-typed');
    expect(await readdir(join(home, 'credentials'))).toEqual([]);
  });
});

describe('carapace auth status and rm', () => {
  async function homeWithCredentials(): Promise<string> {
    const home = await freshHome();
    for (const [plugin, name, value] of [
      ['github', 'API_TOKEN', 'value-one-abc'],
      ['github', 'WEBHOOK_SECRET', 'value-two-def'],
      ['memory', 'DB_KEY', 'value-three-ghi'],
    ] as const) {
      expect((await runWithIo(['--home', home, 'auth', 'set', plugin, name], { stdin: value })).status).toBe(0);
    }
    return home;
  }

  it('lists names per plugin and never a value or its length', async () => {
    const home = await homeWithCredentials();
    const text = await runWithIo(['--home', home, 'auth', 'status']);
    expect(text.status).toBe(0);
    expect(text.stdout).toBe('github\n  API_TOKEN  stored\n  WEBHOOK_SECRET  stored\nmemory\n  DB_KEY  stored\n');
    const json = await runWithIo(['--json', '--home', home, 'auth', 'status', 'github']);
    expect(JSON.parse(json.stdout)).toEqual({
      credentials: [
        { plugin: 'github', name: 'API_TOKEN', present: true },
        { plugin: 'github', name: 'WEBHOOK_SECRET', present: true },
      ],
    });
    for (const output of [text.stdout, json.stdout]) {
      expect(output).not.toMatch(/value-|13|15/);
    }
  });

  it('says nothing is stored, without creating a home', async () => {
    const home = await freshHome();
    expect(await runWithIo(['--home', home, 'auth', 'status'])).toMatchObject({ status: 0, stdout: 'no credentials stored\n' });
    expect(await runWithIo(['--home', home, 'auth', 'status', 'github'])).toMatchObject({ stdout: 'no credentials stored for plugin github\n' });
    await expect(lstat(home)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('removes one credential, and refuses a missing one with CREDENTIAL_MISSING', async () => {
    const home = await homeWithCredentials();
    expect(await runWithIo(['--home', home, 'auth', 'rm', 'github', 'API_TOKEN'])).toMatchObject({
      status: 0,
      stdout: 'removed API_TOKEN for plugin github\n',
    });
    await expect(lstat(credentialFile(home, 'github', 'API_TOKEN'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(credentialFile(home, 'github', 'WEBHOOK_SECRET'), 'utf8')).toBe('value-two-def');

    const again = await runWithIo(['--json', '--home', home, 'auth', 'rm', 'github', 'API_TOKEN']);
    expect(again.status).toBe(7);
    expect(errorOf(again.stdout).code).toBe('CREDENTIAL_MISSING');
    const nowhere = await runWithIo(['--json', '--home', await freshHome(), 'auth', 'rm', 'github', 'API_TOKEN']);
    expect(errorOf(nowhere.stdout).code).toBe('CREDENTIAL_MISSING');
  });

  it('refuses a credential file that is not owner-only instead of listing it', async () => {
    const home = await homeWithCredentials();
    const { chmod } = await import('node:fs/promises');
    await chmod(credentialFile(home, 'memory', 'DB_KEY'), 0o644);
    const run = await runWithIo(['--json', '--home', home, 'auth', 'status']);
    expect(run.status).toBe(7);
    expect(errorOf(run.stdout).code).toBe('CREDENTIAL_INSECURE');
  });
});
