import { lstat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureCarapaceHome } from '../../config/carapace-home.js';
import type { CommandContext } from '../command-result.js';
import { configGet, configSet, configShow } from './config.js';

let scratch: string;
let ctx: CommandContext;
beforeEach(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'carapace-cli-config-'));
  ctx = { home: join(scratch, 'home'), env: {}, json: false };
});
afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('config commands', () => {
  it('show prints every setting as TOML, defaults marked, when there is no file yet', async () => {
    const result = await configShow(ctx);
    expect(result.text).toBe(
      [
        `# ${join(ctx.home, 'config.toml')} does not exist; every value is a default`,
        '',
        '[runtime]',
        'preference = "auto"  # default',
        '# socket: not set',
        '',
        '[container]',
        'pids = 64  # default',
        'memory_mb = 256  # default',
        'cpus = 0.5  # default',
        '',
        '[calls]',
        'timeout_ms = 30000  # default',
        'confirm_timeout_ms = 60000  # default',
        'caller_rate = 200  # default',
        'caller_burst = 400  # default',
        'tool_rate = 1000  # default',
        'tool_burst = 2000  # default',
        '',
        '[log]',
        'level = "info"  # default',
        '',
        '[audit]',
        'sync = "batched"  # default',
        '',
        '[update]',
        '# url: not set',
        '# release_key: not set',
        '',
      ].join('\n'),
    );
    expect(result.data).toMatchObject({ exists: false, sources: { 'runtime.preference': 'default', 'runtime.socket': 'unset' } });
  });

  it('set creates a secure home, writes the file and reads back through get and show', async () => {
    const set = await configSet(ctx, 'runtime.preference', 'podman');
    expect(set.text).toBe('runtime.preference = podman');
    expect(set.data).toEqual({ key: 'runtime.preference', value: 'podman', file: join(ctx.home, 'config.toml') });
    expect((await lstat(ctx.home)).mode & 0o777).toBe(0o700);

    const get = await configGet(ctx, 'runtime.preference');
    expect(get.text).toBe('podman');
    expect(get.data).toEqual({ key: 'runtime.preference', value: 'podman', source: 'file' });

    const show = await configShow(ctx);
    expect(show.text).toContain('preference = "podman"\n');
    expect(show.data).toMatchObject({ exists: true, sources: { 'runtime.preference': 'file', 'log.level': 'default' } });
  });

  it('get prints nothing for an unset optional setting, and null in --json data', async () => {
    const get = await configGet(ctx, 'runtime.socket');
    expect(get.text).toBe('');
    expect(get.data).toEqual({ key: 'runtime.socket', value: null, source: 'unset' });
  });

  it('get and set refuse an unknown key before touching anything', async () => {
    await expect(configGet(ctx, 'runtime.nope')).rejects.toMatchObject({ code: 'CONFIG_UNKNOWN_KEY' });
    await expect(configSet(ctx, 'runtime.nope', 'x')).rejects.toMatchObject({ code: 'CONFIG_UNKNOWN_KEY' });
    await expect(lstat(ctx.home)).rejects.toThrow(/ENOENT/);
  });

  it('show and get fail with the typed error for an invalid file', async () => {
    await ensureCarapaceHome(ctx.home);
    await writeFile(join(ctx.home, 'config.toml'), '[container]\npids = 9000\n');
    await expect(configShow(ctx)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(configGet(ctx, 'log.level')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(configSet(ctx, 'log.level', 'debug')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    expect(await readFile(join(ctx.home, 'config.toml'), 'utf8')).toBe('[container]\npids = 9000\n');
  });
});
