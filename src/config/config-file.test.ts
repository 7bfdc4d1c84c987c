import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CarapaceError } from '../errors.js';
import { parseConfig } from '../wire/config.js';
import { nodeAtomicWriteSteps, type AtomicWriteSteps } from './atomic-write.js';
import { getSetting, loadConfig, setSetting } from './config-file.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'carapace-config-'));
  file = join(dir, 'config.toml');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function failure(action: Promise<unknown>): Promise<CarapaceError> {
  const error: unknown = await action.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof CarapaceError)) throw new Error(`expected a CarapaceError, got ${String(error)}`);
  return error;
}

const defaults = parseConfig({});

describe('loadConfig', () => {
  it('gives the defaults when the file does not exist', async () => {
    const loaded = await loadConfig(file);
    expect(loaded.exists).toBe(false);
    expect(defaults.ok && loaded.config).toEqual(defaults.ok && defaults.config);
    expect(loaded.explicitKeys).toEqual([]);
  });

  it('reads the settings a file sets and reports which they are', async () => {
    await writeFile(file, '[runtime]\npreference = "podman"\n\n[container]\npids = 32\n');
    const loaded = await loadConfig(file);
    expect(loaded.config.runtime.preference).toBe('podman');
    expect(loaded.config.container).toEqual({ pids: 32, memory_mb: 256, cpus: 0.5 });
    expect(loaded.explicitKeys).toEqual(['runtime.preference', 'container.pids']);
  });

  it('CONFIG_INVALID names the file and an unknown top-level key', async () => {
    await writeFile(file, 'telemetry = true\n');
    const error = await failure(loadConfig(file));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/unknown key telemetry/);
  });

  it('CONFIG_INVALID names an unknown nested key with its section', async () => {
    await writeFile(file, '[container]\npid = 10\n');
    const error = await failure(loadConfig(file));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/unknown key container\.pid\b/);
  });

  it('CONFIG_INVALID names every key of the wrong type or out of range', async () => {
    await writeFile(file, '[container]\npids = "many"\ncpus = 2.0\n[log]\nlevel = "loud"\n');
    const error = await failure(loadConfig(file));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(file);
    for (const key of ['container.pids', 'container.cpus', 'log.level']) expect(error.message).toContain(key);
  });

  it('CONFIG_MALFORMED names the file, line and column of a TOML syntax error', async () => {
    await writeFile(file, '[runtime]\npreference = "podman\n');
    const error = await failure(loadConfig(file));
    expect(error.code).toBe('CONFIG_MALFORMED');
    expect(error.message).toContain(`${file}:2:`);
    expect(error.details).toMatchObject({ file, line: 2 });
  });

  it('CONFIG_MALFORMED for a __proto__ key', async () => {
    await writeFile(file, '[__proto__]\npolluted = true\n');
    expect((await failure(loadConfig(file))).code).toBe('CONFIG_MALFORMED');
  });

  it('CONFIG_UNREADABLE names the file when it cannot be read (a directory, since tests run as root)', async () => {
    await mkdir(file);
    const error = await failure(loadConfig(file));
    expect(error.code).toBe('CONFIG_UNREADABLE');
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/EISDIR/);
  });
});

describe('getSetting', () => {
  it('reads a dotted key and refuses an unknown one with CONFIG_UNKNOWN_KEY', async () => {
    const { config } = await loadConfig(file);
    expect(getSetting(config, 'container.memory_mb')).toBe(256);
    expect(getSetting(config, 'runtime.socket')).toBeUndefined();
    const error = (() => {
      try {
        getSetting(config, 'runtime.sockett');
      } catch (thrown) {
        return thrown;
      }
      return undefined;
    })();
    expect(error).toMatchObject({ code: 'CONFIG_UNKNOWN_KEY' });
    expect(String(error)).toContain('runtime.sockett');
  });
});

describe('setSetting', () => {
  it('creates the file 0600 with the one setting', async () => {
    const result = await setSetting(file, 'runtime.preference', 'podman');
    expect(result).toMatchObject({ key: 'runtime.preference', value: 'podman' });
    expect(await readFile(file, 'utf8')).toBe('[runtime]\npreference = "podman"\n');
    expect((await lstat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['config.toml']);
  });

  it('keeps unrelated keys, comments and layout when it edits a value in place', async () => {
    const original = '# my settings\n[runtime]\npreference = "docker"  # work laptop\n\n[container]\npids = 32\n';
    await writeFile(file, original, { mode: 0o644 });
    await setSetting(file, 'runtime.preference', 'podman');
    await setSetting(file, 'container.cpus', '0.25');
    await setSetting(file, 'log.level', 'debug');
    expect(await readFile(file, 'utf8')).toBe(
      '# my settings\n[runtime]\npreference = "podman"  # work laptop\n\n[container]\ncpus = 0.25\npids = 32\n\n[log]\nlevel = "debug"\n',
    );
    expect((await lstat(file)).mode & 0o777).toBe(0o600);
  });

  it('re-serialises a layout it cannot edit in place, keeping every value', async () => {
    await writeFile(file, 'container = { pids = 16 }\n');
    await setSetting(file, 'container.memory_mb', '128');
    const { config } = await loadConfig(file);
    expect(config.container).toMatchObject({ pids: 16, memory_mb: 128 });
  });

  it('refuses a value the schema refuses, naming key and file, leaving the file as it was', async () => {
    const original = '[container]\npids = 32\n';
    await writeFile(file, original);
    for (const [key, raw] of [['container.pids', '1000'], ['container.pids', 'ten'], ['runtime.preference', 'lxc'], ['runtime.socket', 'rel.sock']] as const) {
      const error = await failure(setSetting(file, key, raw));
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toContain(file);
      expect(error.message).toContain(key);
    }
    expect(await readFile(file, 'utf8')).toBe(original);
  });

  it('refuses an unknown key with CONFIG_UNKNOWN_KEY', async () => {
    expect((await failure(setSetting(file, 'runtime.colour', 'blue'))).code).toBe('CONFIG_UNKNOWN_KEY');
  });

  it('refuses to write over a file that is invalid elsewhere instead of repairing it', async () => {
    const original = '[runtime]\npreference = "docker"\nflavour = "x"\n';
    await writeFile(file, original);
    const error = await failure(setSetting(file, 'runtime.preference', 'podman'));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toMatch(/unknown key runtime\.flavour/);
    expect(await readFile(file, 'utf8')).toBe(original);
  });

  it('lets the user fix the one bad key by setting it', async () => {
    await writeFile(file, '[container]\npids = 9000\n');
    await setSetting(file, 'container.pids', '100');
    expect(await readFile(file, 'utf8')).toBe('[container]\npids = 100\n');
  });

  it('refuses to write over a malformed file', async () => {
    const original = '[runtime\n';
    await writeFile(file, original);
    expect((await failure(setSetting(file, 'log.level', 'debug'))).code).toBe('CONFIG_MALFORMED');
    expect(await readFile(file, 'utf8')).toBe(original);
  });

  describe('when a write step fails', () => {
    const original = '# keep me\n[log]\nlevel = "warn"\n';
    const failingAt = (step: 'writeTemp' | 'rename'): AtomicWriteSteps => ({
      ...nodeAtomicWriteSteps,
      // The temp file is half-written before the failure, so the cleanup has something to remove.
      writeTemp: async (path, data, mode) => {
        if (step !== 'writeTemp') return nodeAtomicWriteSteps.writeTemp(path, data, mode);
        await writeFile(path, data.slice(0, 5), { mode });
        throw new Error('disk full');
      },
      rename: async (from, to) => {
        if (step === 'rename') throw new Error('rename refused');
        return nodeAtomicWriteSteps.rename(from, to);
      },
    });

    for (const step of ['writeTemp', 'rename'] as const) {
      it(`${step}: CONFIG_WRITE_FAILED, the file byte-identical and no temp file left`, async () => {
        await writeFile(file, original);
        const error = await failure(setSetting(file, 'log.level', 'debug', { steps: failingAt(step) }));
        expect(error.code).toBe('CONFIG_WRITE_FAILED');
        expect(error.message).toContain(file);
        expect(await readFile(file, 'utf8')).toBe(original);
        expect(await readdir(dir)).toEqual(['config.toml']);
      });
    }

    it('directory fsync: reported, with the complete new file in place and no temp file', async () => {
      await writeFile(file, original);
      const steps: AtomicWriteSteps = {
        ...nodeAtomicWriteSteps,
        syncDirectory: () => Promise.reject(new Error('EIO')),
      };
      expect((await failure(setSetting(file, 'log.level', 'debug', { steps }))).code).toBe('CONFIG_WRITE_FAILED');
      expect(await readFile(file, 'utf8')).toBe('# keep me\n[log]\nlevel = "debug"\n');
      expect(await readdir(dir)).toEqual(['config.toml']);
    });
  });
});
