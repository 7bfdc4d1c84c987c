import { mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { CarapaceError } from '../errors.js';
import { startWalSyncer } from './wal-syncer.js';

const tempDb = async (): Promise<string> => join(await mkdtemp(join(tmpdir(), 'carapace-wal-syncer-')), 'audit.db');

function failureCode(check: () => void): string | undefined {
  try {
    check();
    return undefined;
  } catch (error) {
    return error instanceof CarapaceError ? error.code : 'not a CarapaceError';
  }
}

describe('startWalSyncer', () => {
  it('fsyncs a WAL after a commit and stays healthy', async () => {
    const path = await tempDb();
    await writeFile(`${path}-wal`, 'frames');
    const syncer = startWalSyncer(path, { intervalMs: 5 });
    syncer.committed();
    await sleep(50);
    expect(failureCode(() => syncer.verifyHealthy())).toBeUndefined();
    syncer.committed();
    syncer.close();
    expect(failureCode(() => syncer.verifyHealthy())).toBeUndefined();
  });

  it('fails closed once the WAL cannot be synced (missing file)', async () => {
    const syncer = startWalSyncer(await tempDb(), { intervalMs: 5 });
    syncer.committed();
    await sleep(50);
    expect(failureCode(() => syncer.verifyHealthy())).toBe('AUDIT_WRITE_FAILED');
    // Still failed later: one lost fsync is not forgotten by the next commit.
    syncer.committed();
    await sleep(20);
    expect(failureCode(() => syncer.verifyHealthy())).toBe('AUDIT_WRITE_FAILED');
    syncer.close();
  });

  it('refuses a WAL replaced by a symlink rather than fsync what it points to', async () => {
    const path = await tempDb();
    await writeFile(`${path}.elsewhere`, 'frames');
    await symlink(`${path}.elsewhere`, `${path}-wal`);
    const syncer = startWalSyncer(path, { intervalMs: 5 });
    syncer.committed();
    await sleep(50);
    expect(failureCode(() => syncer.verifyHealthy())).toBe('AUDIT_WRITE_FAILED');
    syncer.close();
  });

  it('does nothing without a commit, also on close', async () => {
    const syncer = startWalSyncer(await tempDb(), { intervalMs: 5 });
    await sleep(20);
    syncer.close();
    expect(failureCode(() => syncer.verifyHealthy())).toBeUndefined();
  });
});
