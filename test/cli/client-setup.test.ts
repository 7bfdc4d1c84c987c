import { mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run-cli.js';
import { CLI_ENTRY, runCliProcess } from '../support/cli-process.js';

/** Each client's file where it keeps it, as a user who already has other servers and settings would have it. */
const SAMPLES = {
  'claude-code': {
    path: '.claude.json',
    document: {
      numStartups: 42,
      theme: 'dark',
      userID: '6c1f0e5b9a',
      projects: { '/home/ada/src/app': { allowedTools: [], mcpServers: {}, hasTrustDialogAccepted: true } },
      mcpServers: {
        github: { type: 'stdio', command: 'npx', args: ['-y', '@modelcontextprotocol/server-github'], env: { GITHUB_PERSONAL_ACCESS_TOKEN: 'ghp_example' } },
      },
      autoUpdates: false,
    },
  },
  'claude-desktop': {
    path: join('.config', 'Claude', 'claude_desktop_config.json'),
    document: {
      globalShortcut: 'Ctrl+Space',
      mcpServers: { filesystem: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '/home/ada/Documents'] } },
    },
  },
  cursor: {
    path: join('.cursor', 'mcp.json'),
    document: { mcpServers: { linear: { url: 'https://mcp.linear.app/sse' }, 'local-db': { command: 'db-mcp', env: { PORT: '5432' } } } },
  },
} as const;
type Client = keyof typeof SAMPLES;
const CLIENTS = Object.keys(SAMPLES) as Client[];

let homedir: string;
beforeEach(async () => {
  homedir = await mkdtemp(join(tmpdir(), 'carapace-client-setup-'));
});
afterEach(async () => {
  await rm(homedir, { recursive: true, force: true });
});

/** The real CLI in-process, with the temp directory as the user's home directory. */
async function carapace(...argv: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const status = await runCli(argv, {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    env: {},
    homedir,
    interrupted: new Promise<void>(() => undefined),
  });
  return { status, stdout, stderr };
}

const fileOf = (client: Client): string => join(homedir, SAMPLES[client].path);

async function writeSample(client: Client, text = `${JSON.stringify(SAMPLES[client].document, null, 2)}\n`): Promise<string> {
  const file = fileOf(client);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text, { mode: 0o644 });
  return text;
}

/** Everything in the file's folder, so a stray backup or temp file shows up. */
const listing = async (client: Client): Promise<string[]> => (await readdir(dirname(fileOf(client)))).sort();
const backupsOf = async (client: Client): Promise<string[]> => (await listing(client)).filter((name) => name.includes('.carapace-backup-'));
const readJson = async (file: string): Promise<Record<string, unknown>> => JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;

/** In-process, the running script is vitest's, so the entry names the package's built bin. */
function expectedEntry(client: Client, args: string[] = [CLI_ENTRY, 'mcp']): Record<string, unknown> {
  return client === 'claude-code' ? { type: 'stdio', command: process.execPath, args, env: {} } : { command: process.execPath, args };
}

describe.each(CLIENTS)('carapace client setup|remove %s', (client) => {
  it('adds carapace, keeps every other server and key, backs the file up and keeps its mode', async () => {
    const original = await writeSample(client);
    const run = await carapace('client', 'setup', client);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain(`added carapace to mcpServers in ${fileOf(client)}`);

    const sample = SAMPLES[client].document;
    expect(await readJson(fileOf(client))).toEqual({ ...sample, mcpServers: { ...sample.mcpServers, carapace: expectedEntry(client) } });
    expect(Object.keys(await readJson(fileOf(client)))).toEqual(Object.keys(sample));
    const [backup, ...more] = await backupsOf(client);
    expect(more).toEqual([]);
    expect(await readFile(join(dirname(fileOf(client)), backup!), 'utf8')).toBe(original);
    expect((await stat(fileOf(client))).mode & 0o777).toBe(0o644);
    expect(run.stdout).toContain(`backup of the previous file: ${join(dirname(fileOf(client)), backup!)}`);
  });

  it('changes nothing on a second run: the same bytes, no new backup', async () => {
    await writeSample(client);
    expect((await carapace('client', 'setup', client)).status).toBe(0);
    const configured = await readFile(fileOf(client));
    const before = await listing(client);

    const again = await carapace('client', 'setup', client);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('already configured');
    expect(await readFile(fileOf(client))).toEqual(configured);
    expect(await listing(client)).toEqual(before);
  });

  it('--print shows the entry before and after and the file, and writes nothing', async () => {
    const original = await writeSample(client);
    const run = await carapace('client', 'setup', client, '--print');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`--- ${fileOf(client)} mcpServers.carapace`);
    expect(run.stdout).toContain('- (no entry)');
    expect(run.stdout).toContain(`+   "command": ${JSON.stringify(process.execPath)}`);
    expect(run.stdout).toContain('nothing written (--print)');
    expect(await readFile(fileOf(client), 'utf8')).toBe(original);
    expect(await backupsOf(client)).toEqual([]);
  });

  it('remove takes out carapace only, with a backup, and says so when there is nothing to remove', async () => {
    await writeSample(client);
    expect((await carapace('client', 'setup', client)).status).toBe(0);
    const printed = await carapace('client', 'remove', client, '--print');
    expect(printed.stdout).toContain('+ (no entry)');
    expect(await backupsOf(client)).toHaveLength(1);

    const removed = await carapace('client', 'remove', client);
    expect(removed.status, removed.stderr).toBe(0);
    expect(removed.stdout).toContain(`removed carapace from mcpServers in ${fileOf(client)}`);
    expect(await readJson(fileOf(client))).toEqual(SAMPLES[client].document);
    expect(await backupsOf(client)).toHaveLength(2);

    const nothing = await carapace('client', 'remove', client);
    expect(nothing.status).toBe(0);
    expect(nothing.stdout).toContain('no carapace entry');
    expect(await backupsOf(client)).toHaveLength(2);
  });

  it('refuses a file that is not JSON with CLIENT_CONFIG_INVALID naming it, and leaves it as it was', async () => {
    const broken = await writeSample(client, '{\n  "mcpServers": {\n    "github": { "command": "gh", },\n  }\n}\n');
    for (const command of ['setup', 'remove']) {
      const run = await carapace('client', command, client);
      expect(run.status).toBe(3);
      expect(run.stderr).toContain('[CLIENT_CONFIG_INVALID]');
      expect(run.stderr).toContain(fileOf(client));
    }
    expect(await readFile(fileOf(client), 'utf8')).toBe(broken);
    expect(await listing(client)).toEqual([SAMPLES[client].path.split('/').pop()]);
  });
});

describe('carapace client setup', () => {
  it('creates a missing file 0600 in a new 0700 folder, with no backup', async () => {
    const run = await carapace('client', 'setup', 'claude-desktop');
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('created the file');
    expect(await readJson(fileOf('claude-desktop'))).toEqual({ mcpServers: { carapace: expectedEntry('claude-desktop') } });
    expect((await stat(fileOf('claude-desktop'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(homedir, '.config', 'Claude'))).mode & 0o777).toBe(0o700);
    expect(await listing('claude-desktop')).toEqual(['claude_desktop_config.json']);
  });

  it('--print on a missing file creates nothing', async () => {
    const run = await carapace('client', 'setup', 'cursor', '--print');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('(the file does not exist)');
    await expect(stat(join(homedir, '.cursor'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('--config points at another file, and a non-default home is passed on to `carapace mcp`', async () => {
    const file = join(homedir, 'elsewhere.json');
    await writeFile(file, '{"mcpServers": {}}\n');
    const home = join(homedir, 'other-home');
    const run = await carapace('--home', home, 'client', 'setup', 'cursor', '--config', file);
    expect(run.status, run.stderr).toBe(0);
    expect(await readJson(file)).toEqual({ mcpServers: { carapace: expectedEntry('cursor', [CLI_ENTRY, '--home', home, 'mcp']) } });
  });

  it('replaces an outdated carapace entry in place, with a backup', async () => {
    await writeSample('cursor', '{"mcpServers": {"carapace": {"command": "carapace", "args": ["mcp"]}, "linear": {"url": "https://mcp.linear.app/sse"}}}\n');
    const run = await carapace('--json', 'client', 'setup', 'cursor');
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      client: 'cursor',
      file: fileOf('cursor'),
      action: 'replaced',
      written: true,
      before: { command: 'carapace', args: ['mcp'] },
      after: expectedEntry('cursor'),
    });
    expect(Object.keys((await readJson(fileOf('cursor')))['mcpServers'] as object)).toEqual(['carapace', 'linear']);
    expect(await backupsOf('cursor')).toHaveLength(1);
  });

  it('gives --json results for every outcome', async () => {
    const printed = JSON.parse((await carapace('--json', 'client', 'setup', 'cursor', '--print')).stdout) as Record<string, unknown>;
    expect(printed).toMatchObject({ action: 'created', written: false, backup: null, before: null });
    expect(JSON.parse((await carapace('--json', 'client', 'setup', 'cursor')).stdout)).toMatchObject({ action: 'created', written: true, backup: null });
    expect(JSON.parse((await carapace('--json', 'client', 'setup', 'cursor')).stdout)).toMatchObject({ action: 'unchanged', written: false });
    const removed = JSON.parse((await carapace('--json', 'client', 'remove', 'cursor')).stdout) as { action: string; backup: string };
    expect(removed).toMatchObject({ action: 'removed', written: true, after: null });
    expect(removed.backup).toContain('mcp.json.carapace-backup-');
    expect(JSON.parse((await carapace('--json', 'client', 'remove', 'cursor')).stdout)).toMatchObject({ action: 'absent', written: false });
  });

  it.each([
    ['mcpServers is not an object', '{"mcpServers": ["carapace"]}\n'],
    ['the file holds an array', '[]\n'],
  ])('CLIENT_CONFIG_INVALID when %s', async (_what, text) => {
    await writeSample('cursor', text);
    const run = await carapace('--json', 'client', 'setup', 'cursor');
    expect(run.status).toBe(3);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, error: { code: 'CLIENT_CONFIG_INVALID', file: fileOf('cursor') } });
    expect(await readFile(fileOf('cursor'), 'utf8')).toBe(text);
  });

  it('CLIENT_CONFIG_UNREADABLE when the path is a directory', async () => {
    await mkdir(fileOf('cursor'), { recursive: true });
    const run = await carapace('client', 'setup', 'cursor');
    expect(run.status).toBe(3);
    expect(run.stderr).toContain('[CLIENT_CONFIG_UNREADABLE]');
  });

  it('CLIENT_CONFIG_UNREADABLE when the path runs through a regular file', async () => {
    await writeFile(join(homedir, '.cursor'), 'not a folder');
    const run = await carapace('client', 'setup', 'cursor');
    expect(run.status).toBe(3);
    expect(run.stderr).toContain('[CLIENT_CONFIG_UNREADABLE]');
    expect(await readFile(join(homedir, '.cursor'), 'utf8')).toBe('not a folder');
  });

  it('refuses an unknown client with CLI_USAGE', async () => {
    const run = await carapace('client', 'setup', 'vscode');
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^carapace: .*claude-code, claude-desktop, cursor \[CLI_USAGE\]\n$/);
  });

  it('HOME_UNAVAILABLE without a home directory or --config', async () => {
    let stderr = '';
    const status = await runCli(['--home', join(homedir, 'h'), 'client', 'setup', 'cursor'], {
      stdout: () => undefined,
      stderr: (text) => void (stderr += text),
      env: {},
      homedir: '',
      interrupted: new Promise<void>(() => undefined),
    });
    expect(status).toBe(3);
    expect(stderr).toContain('[HOME_UNAVAILABLE]');
  });

  it('the built CLI writes the bin it runs from, on the Node.js running it', async () => {
    const file = join(homedir, 'mcp.json');
    const run = await runCliProcess(['--home', join(homedir, '.carapace'), 'client', 'setup', 'claude-desktop', '--config', file], { HOME: homedir });
    expect(run.code, run.stderr).toBe(0);
    expect(await readJson(file)).toEqual({ mcpServers: { carapace: { command: process.execPath, args: [await realpath(CLI_ENTRY), 'mcp'] } } });
  });
});
