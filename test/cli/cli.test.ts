import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CARAPACE_VERSION } from '../../src/version.js';
import { freshHome, runCarapace } from '../support/run-cli-in-process.js';

const errorCodeOf = (json: string): string => (JSON.parse(json) as { error: { code: string } }).error.code;

describe('carapace CLI', () => {
  it('prints its version and help, exiting 0', async () => {
    const version = await runCarapace(['--version']);
    expect(version).toMatchObject({ status: 0, stdout: `${CARAPACE_VERSION}\n` });
    const help = await runCarapace(['--help']);
    expect(help.status).toBe(0);
    for (const command of ['doctor', 'config', 'start', 'stop', 'status', 'logs']) expect(help.stdout).toContain(command);
    expect(help.stdout).toContain('--json');
    expect(help.stdout).toContain('--home');
  });

  it.each([
    ['an unknown flag', ['--frobnicate', 'status']],
    ['an unknown flag on a subcommand', ['doctor', '--skip-canary']],
    ['an unknown command', ['launch']],
    ['a missing argument', ['config', 'get']],
    ['an excess argument', ['status', 'now']],
    ['a non-numeric option value', ['logs', '-n', '10abc']],
  ])('refuses %s with one line and exit 2', async (_what, argv) => {
    const run = await runCarapace(argv);
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^carapace: .*\[CLI_USAGE\]\n$/);
  });

  it('reports usage errors as JSON under --json', async () => {
    const run = await runCarapace(['--json', 'status', '--bogus']);
    expect(run.status).toBe(2);
    expect(errorCodeOf(run.stdout)).toBe('CLI_USAGE');
  });

  it('honours --home over CARAPACE_HOME and creates the home owner-only on first write', async () => {
    const home = await freshHome();
    const other = await freshHome();
    const run = await runCarapace(['--home', home, 'config', 'set', 'runtime.preference', 'podman'], { env: { CARAPACE_HOME: other } });
    expect(run).toMatchObject({ status: 0, stdout: 'runtime.preference = podman\n' });
    expect((await stat(home)).mode & 0o777).toBe(0o700);
    expect((await stat(join(home, 'credentials'))).mode & 0o777).toBe(0o700);
    await expect(stat(other)).rejects.toMatchObject({ code: 'ENOENT' });
    const get = await runCarapace(['config', 'get', 'runtime.preference'], { env: { CARAPACE_HOME: home } });
    expect(get.stdout).toBe('podman\n');
  });

  it('gives machine-readable output for config under --json', async () => {
    const home = await freshHome();
    const run = await runCarapace(['--json', '--home', home, 'config', 'get', 'container.pids']);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ key: 'container.pids', value: 64, source: 'default' });
  });

  it('names the file and the key of a bad config, and a failed set leaves the file as it was', async () => {
    const home = await freshHome();
    await mkdir(home, { recursive: true, mode: 0o700 });
    const file = join(home, 'config.toml');
    const original = '# mine\n[runtime]\npreference = "podman"\nspeed = "fast"\n';
    await writeFile(file, original, { mode: 0o600 });

    const show = await runCarapace(['--home', home, 'config', 'show']);
    expect(show.status).toBe(3);
    expect(show.stderr).toContain(file);
    expect(show.stderr).toContain('runtime.speed');
    expect(show.stderr).toContain('[CONFIG_INVALID]');

    const set = await runCarapace(['--json', '--home', home, 'config', 'set', 'runtime.preference', 'docker']);
    expect(set.status).toBe(3);
    expect(errorCodeOf(set.stdout)).toBe('CONFIG_INVALID');
    expect(await readFile(file, 'utf8')).toBe(original);
  });

  it('refuses a value of the wrong type without touching the file', async () => {
    const home = await freshHome();
    await runCarapace(['--home', home, 'config', 'set', 'container.pids', '32']);
    const before = await readFile(join(home, 'config.toml'), 'utf8');
    const run = await runCarapace(['--home', home, 'config', 'set', 'container.pids', 'lots']);
    expect(run.status).toBe(3);
    expect(run.stderr).toContain('container.pids');
    expect(await readFile(join(home, 'config.toml'), 'utf8')).toBe(before);
    const unknown = await runCarapace(['--home', home, 'config', 'set', 'container.privileged', 'true']);
    expect(unknown.stderr).toContain('[CONFIG_UNKNOWN_KEY]');
  });

  it('says a core is not running, with exit 5', async () => {
    const run = await runCarapace(['--json', '--home', await freshHome(), 'status']);
    expect(run.status).toBe(5);
    expect(JSON.parse(run.stdout)).toMatchObject({ running: false, ok: false });
    const stop = await runCarapace(['--home', await freshHome(), 'stop']);
    expect(stop).toMatchObject({ status: 5 });
    expect(stop.stderr).toContain('[CORE_NOT_RUNNING]');
  });
});
