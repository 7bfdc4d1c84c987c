import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openAuditLog, type AuditLog } from './audit-log.js';
import { openAuditReader } from './audit-reader.js';
import { AUDIT_MIGRATIONS } from './audit-schema.js';

const tempDb = async (): Promise<string> => join(await mkdtemp(join(tmpdir(), 'carapace-audit-reader-')), 'audit.db');
const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

function recordCalls(log: AuditLog, count: number, from = 1): void {
  for (let index = from; index < from + count; index += 1) {
    log.recordIntent({ callId: `c${index}`, topic: 'echo.say', source: 'echo', arguments: { n: index } });
    log.recordOutcome({ callId: `c${index}`, decision: 'succeeded', topic: 'echo.say', source: 'echo' });
  }
}

describe('openAuditReader', () => {
  it('reads, verifies and exports what the log wrote, without changing the database file', async () => {
    const path = await tempDb();
    {
      using log = openAuditLog(path);
      recordCalls(log, 3);
    }
    const before = sha256(path);
    {
      using reader = openAuditReader(path);
      expect(reader.tail(2).map((entry) => entry.seq)).toEqual([5, 6]);
      expect(reader.after(4, 10).map((entry) => entry.seq)).toEqual([5, 6]);
      expect(reader.verify()).toMatchObject({ ok: true, count: 6 });
      const lines: string[] = [];
      for await (const line of reader.exportJsonl()) lines.push(line);
      expect(lines).toHaveLength(6);
    }
    expect(sha256(path)).toBe(before);
  });

  it('neither blocks nor is blocked by a writer appending at the same time', async () => {
    const path = await tempDb();
    using log = openAuditLog(path, { busyTimeoutMs: 0 });
    // One transaction, one fsync: the test needs more than one export page, not 1,200 fsyncs.
    log.appendMany(Array.from({ length: 1200 }, () => ({ kind: 'lifecycle' as const, topic: 'plugin.ready' })));
    using reader = openAuditReader(path, { busyTimeoutMs: 0 });
    const lines = reader.exportJsonl();
    expect((await lines.next()).done).toBe(false);
    // The export is paused between pages; appends go through at once (busy timeout 0).
    recordCalls(log, 5, 601);
    let exported = 1;
    for await (const _line of lines) exported += 1;
    // The export stops at the head it saw when it began.
    expect(exported).toBe(1200);
    expect(reader.after(1200, 100)).toHaveLength(10);

    // A write transaction left open by the writer does not stop a read: WAL gives the reader the last commit.
    const raw = new Database(path);
    try {
      raw.exec('BEGIN IMMEDIATE');
      const head = reader.head();
      raw
        .prepare(`INSERT INTO audit_records (seq, timestamp, kind, prev_hash, hash) VALUES (?, 't', 'lifecycle', ?, 'y')`)
        .run((head?.seq ?? 0) + 1, head?.hash);
      expect(reader.verify()).toMatchObject({ ok: true, count: 1210 });
      raw.exec('ROLLBACK');
    } finally {
      raw.close();
    }
  });

  it('refuses a missing file with AUDIT_NOT_FOUND and creates nothing', async () => {
    const path = await tempDb();
    expect(() => openAuditReader(path)).toThrow(expect.objectContaining({ code: 'AUDIT_NOT_FOUND' }));
    expect(existsSync(path)).toBe(false);
  });

  it('refuses a file that is not owner-only, or a symlink, with AUDIT_INSECURE', async () => {
    const path = await tempDb();
    openAuditLog(path).close();
    chmodSync(path, 0o644);
    expect(() => openAuditReader(path)).toThrow(expect.objectContaining({ code: 'AUDIT_INSECURE' }));
    chmodSync(path, 0o600);
    const link = join(path, '..', 'link.db');
    symlinkSync(path, link);
    expect(() => openAuditReader(link)).toThrow(expect.objectContaining({ code: 'AUDIT_INSECURE' }));
  });

  it.each([
    ['an empty file (no schema yet)', (path: string) => writeFileSync(path, '', { mode: 0o600 })],
    ['a file that is not a database', (path: string) => writeFileSync(path, 'not sqlite at all, just text'.repeat(40), { mode: 0o600 })],
    [
      'a newer schema',
      (path: string) => {
        openAuditLog(path).close();
        const raw = new Database(path);
        raw.pragma(`user_version = ${AUDIT_MIGRATIONS.length + 1}`);
        raw.close();
      },
    ],
  ])('refuses %s with AUDIT_UNAVAILABLE', async (_what, make) => {
    const path = await tempDb();
    make(path);
    expect(() => openAuditReader(path)).toThrow(expect.objectContaining({ code: 'AUDIT_UNAVAILABLE' }));
  });

  it('fails reads after close', async () => {
    const path = await tempDb();
    openAuditLog(path).close();
    const reader = openAuditReader(path);
    reader.close();
    expect(() => reader.tail(1)).toThrow(expect.objectContaining({ code: 'AUDIT_UNAVAILABLE' }));
  });
});
