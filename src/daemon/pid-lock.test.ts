import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CarapaceError } from '../errors.js';
import { acquirePidLock, linuxProcessProbe, readLiveCore, startTimeFromProcStat, type ProcessProbe } from './pid-lock.js';

const tempPidFile = async (): Promise<string> => join(await mkdtemp(join(tmpdir(), 'carapace-pid-')), 'core.pid');
const fields = { pid: process.pid, startedAt: '2026-11-23T00:00:00.000Z' };

describe('acquirePidLock', () => {
  it('writes an owner-only pid file with the process start time, and removes it on release', async () => {
    const path = await tempPidFile();
    {
      await using lock = await acquirePidLock(path, fields);
      const record = JSON.parse(await readFile(path, 'utf8'));
      expect(record.pid).toBe(process.pid);
      expect(record.processStart).toMatch(/^\d+$/);
      expect(lock.record.processStart).toBe(record.processStart);
      expect((await import('node:fs')).statSync(path).mode & 0o777).toBe(0o600);
      expect(await readLiveCore(path)).toMatchObject({ pid: process.pid });
    }
    expect(await readLiveCore(path)).toBeUndefined();
  });

  it('refuses a second core while the first is alive', async () => {
    const path = await tempPidFile();
    await using _first = await acquirePidLock(path, fields);
    const second = acquirePidLock(path, fields);
    await expect(second).rejects.toBeInstanceOf(CarapaceError);
    await expect(second).rejects.toMatchObject({ code: 'CORE_ALREADY_RUNNING' });
  });

  it('replaces the pid file of a core that died without cleaning up', async () => {
    const path = await tempPidFile();
    await writeFile(path, JSON.stringify({ pid: 999_999_999, processStart: '1', startedAt: 'x' }));
    await using lock = await acquirePidLock(path, fields);
    expect(lock.record.pid).toBe(process.pid);
  });

  it('does not mistake a recycled pid for the dead core', async () => {
    const path = await tempPidFile();
    // Same pid as a live process, but another start time: the core that wrote this is gone.
    await writeFile(path, JSON.stringify({ pid: process.pid, processStart: '1', startedAt: 'x' }));
    expect(await readLiveCore(path)).toBeUndefined();
    await using lock = await acquirePidLock(path, fields);
    expect(lock.record.processStart).not.toBe('1');
  });

  it('treats a torn pid file as no core', async () => {
    const path = await tempPidFile();
    await writeFile(path, '{"pid": 12');
    expect(await readLiveCore(path)).toBeUndefined();
  });

  it('reads the start time of a live process and nothing for a missing one', async () => {
    const probe: ProcessProbe = linuxProcessProbe;
    expect(await probe.startTimeOf(process.pid)).toMatch(/^\d+$/);
    expect(await probe.startTimeOf(999_999_999)).toBeUndefined();
  });

  it('finds the start time even when the command name holds spaces and parentheses', () => {
    const rest = 'S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 424242 20 21';
    expect(startTimeFromProcStat(`77 (evil) (name ) ${rest}`)).toBe('424242');
    expect(startTimeFromProcStat('77 (truncated) S 1')).toBeUndefined();
  });
});
