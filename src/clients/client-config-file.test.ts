import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeAtomicWriteSteps, type AtomicWriteSteps } from '../config/atomic-write.js';
import { CarapaceError } from '../errors.js';
import { backupPath, readClientConfigFile, replaceClientConfigFile } from './client-config-file.js';

let dir: string;
let file: string;
const NOW = new Date('2025-03-04T05:06:07.089Z');
const ORIGINAL = '{\n    "theme": "dark"\n}\n';
const UPDATED = '{\n  "theme": "dark",\n  "mcpServers": {}\n}\n';

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'carapace-client-file-'));
  file = join(dir, 'mcp.json');
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

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

describe('readClientConfigFile', () => {
  it('reads the text and mode, and reports a missing file as not existing with mode 0600', async () => {
    expect(await readClientConfigFile(file)).toEqual({ file, exists: false, text: '', mode: 0o600 });
    await writeFile(file, ORIGINAL, { mode: 0o640 });
    expect(await readClientConfigFile(file)).toEqual({ file, exists: true, text: ORIGINAL, mode: 0o640 });
  });

  it('follows a dotfiles symlink to the file it names', async () => {
    const target = join(dir, 'dotfiles-mcp.json');
    await writeFile(target, ORIGINAL);
    await symlink(target, file);
    expect((await readClientConfigFile(file)).file).toBe(target);
  });

  it.each([
    ['a directory', async () => mkdir(file)],
    ['a symlink to nothing', async () => symlink(join(dir, 'gone.json'), file)],
    ['a path through a regular file', async () => writeFile(join(dir, 'plain'), '')],
  ])('CLIENT_CONFIG_UNREADABLE for %s, naming the path', async (what, make) => {
    await make();
    const path = what === 'a path through a regular file' ? join(dir, 'plain', 'mcp.json') : file;
    const error = await failure(readClientConfigFile(path));
    expect(error.code).toBe('CLIENT_CONFIG_UNREADABLE');
    expect(error.message).toContain(path);
  });
});

describe('replaceClientConfigFile', () => {
  it('backs the file up with its mode, then writes it atomically keeping its mode', async () => {
    await writeFile(file, ORIGINAL, { mode: 0o640 });
    const backup = await replaceClientConfigFile(await readClientConfigFile(file), UPDATED, NOW);
    expect(backup).toBe(`${file}.carapace-backup-2025-03-04T050607.089Z`);
    expect(await readFile(file, 'utf8')).toBe(UPDATED);
    expect(await modeOf(file)).toBe(0o640);
    expect(await readFile(backup!, 'utf8')).toBe(ORIGINAL);
    expect(await modeOf(backup!)).toBe(0o640);
  });

  it('never overwrites an earlier backup made in the same millisecond', async () => {
    await writeFile(file, ORIGINAL);
    const first = await replaceClientConfigFile(await readClientConfigFile(file), UPDATED, NOW);
    const second = await replaceClientConfigFile(await readClientConfigFile(file), ORIGINAL, NOW);
    expect(second).toBe(`${first!}-1`);
    expect(await readFile(first!, 'utf8')).toBe(ORIGINAL);
    expect(await readFile(second!, 'utf8')).toBe(UPDATED);
  });

  it('writes through a symlink, keeping the link', async () => {
    const target = join(dir, 'dotfiles-mcp.json');
    await writeFile(target, ORIGINAL);
    await symlink(target, file);
    await replaceClientConfigFile(await readClientConfigFile(file), UPDATED, NOW);
    expect(await readFile(target, 'utf8')).toBe(UPDATED);
    expect((await readdir(dir)).sort()).toEqual(['dotfiles-mcp.json', backupPath('dotfiles-mcp.json', NOW), 'mcp.json'].sort());
  });

  it('creates a missing file 0600 in a new 0700 folder, with no backup', async () => {
    const nested = join(dir, '.config', 'Claude', 'claude_desktop_config.json');
    expect(await replaceClientConfigFile(await readClientConfigFile(nested), UPDATED, NOW)).toBeUndefined();
    expect(await readFile(nested, 'utf8')).toBe(UPDATED);
    expect(await modeOf(nested)).toBe(0o600);
    expect(await modeOf(join(dir, '.config', 'Claude'))).toBe(0o700);
    expect(await readdir(join(dir, '.config', 'Claude'))).toEqual(['claude_desktop_config.json']);
  });

  it('CLIENT_CONFIG_WRITE_FAILED when the write fails: the file is as it was, the backup kept and named', async () => {
    await writeFile(file, ORIGINAL);
    let renames = 0;
    const failingSecondRename: AtomicWriteSteps = {
      ...nodeAtomicWriteSteps,
      async rename(from, to) {
        renames += 1;
        if (renames === 2) throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
        return nodeAtomicWriteSteps.rename(from, to);
      },
    };
    const error = await failure(replaceClientConfigFile(await readClientConfigFile(file), UPDATED, NOW, failingSecondRename));
    expect(error.code).toBe('CLIENT_CONFIG_WRITE_FAILED');
    expect(error.details).toEqual({ file, backup: backupPath(file, NOW) });
    expect(await readFile(file, 'utf8')).toBe(ORIGINAL);
    expect((await readdir(dir)).sort()).toEqual(['mcp.json', backupPath('mcp.json', NOW)].sort());
  });

  it('CLIENT_CONFIG_WRITE_FAILED when the backup cannot be written, and the file is not touched', async () => {
    await writeFile(file, ORIGINAL);
    const failingFirstWrite: AtomicWriteSteps = {
      ...nodeAtomicWriteSteps,
      writeTemp: async () => Promise.reject(Object.assign(new Error('read-only'), { code: 'EROFS' })),
    };
    const error = await failure(replaceClientConfigFile(await readClientConfigFile(file), UPDATED, NOW, failingFirstWrite));
    expect(error.code).toBe('CLIENT_CONFIG_WRITE_FAILED');
    expect(await readFile(file, 'utf8')).toBe(ORIGINAL);
    expect(await readdir(dir)).toEqual(['mcp.json']);
  });

  it('CLIENT_CONFIG_WRITE_FAILED when the parent folder cannot be created', async () => {
    await writeFile(join(dir, 'plain'), '');
    const current = { file: join(dir, 'plain', 'sub', 'mcp.json'), exists: false, text: '', mode: 0o600 };
    expect((await failure(replaceClientConfigFile(current, UPDATED, NOW))).code).toBe('CLIENT_CONFIG_WRITE_FAILED');
  });

  it('writes nothing when the client saved the file after it was read, so its change is not lost', async () => {
    await writeFile(file, ORIGINAL);
    const current = await readClientConfigFile(file);
    const clientSaves: AtomicWriteSteps = {
      ...nodeAtomicWriteSteps,
      async writeTemp(path, data, mode) {
        await nodeAtomicWriteSteps.writeTemp(path, data, mode);
        await writeFile(file, '{"saved": "by the client"}\n');
      },
    };
    const error = await failure(replaceClientConfigFile(current, UPDATED, NOW, clientSaves));
    expect(error.code).toBe('CLIENT_CONFIG_WRITE_FAILED');
    expect(await readFile(file, 'utf8')).toBe('{"saved": "by the client"}\n');
  });
});
