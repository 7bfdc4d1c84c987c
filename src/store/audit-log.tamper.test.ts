import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { hashAuditFields } from './audit-chain.js';
import { openAuditLog, chainBrokenError, type AuditLog } from './audit-log.js';
import type { AuditEntry } from './audit-record.js';

/**
 * Someone with write access to audit.db edits it behind the log's back. The triggers stop casual
 * edits, so each case drops them first, as an attacker would, then checks verify() names the
 * first record it can no longer vouch for.
 */

interface Tampered {
  readonly log: AuditLog;
  readonly original: readonly AuditEntry[];
}

async function tamperWith(edit: (raw: Database.Database, original: readonly AuditEntry[]) => void): Promise<Tampered> {
  const path = join(await mkdtemp(join(tmpdir(), 'carapace-tamper-')), 'audit.db');
  const log = openAuditLog(path);
  for (let index = 1; index <= 4; index += 1) {
    log.recordIntent({ callId: `call-${index}`, topic: 'echo.say', arguments: { n: index } });
    log.recordOutcome({ callId: `call-${index}`, decision: 'succeeded' });
  }
  const original = log.tail(100);
  const raw = new Database(path);
  try {
    // Whoever can write the file can drop the triggers: only the hash chain is left to catch them.
    raw.exec('DROP TRIGGER audit_records_no_update; DROP TRIGGER audit_records_no_delete; DROP TRIGGER audit_records_extend_chain;');
    edit(raw, original);
  } finally {
    raw.close();
  }
  return { log, original };
}

const insertRow = (raw: Database.Database, entry: AuditEntry): void => {
  raw
    .prepare(
      `INSERT INTO audit_records (seq, timestamp, kind, call_id, topic, source, caller, "group", stage, code, decision,
        arguments, detail, prev_hash, hash) VALUES (@seq, @timestamp, @kind, @callId, @topic, @source, @caller, @group,
        @stage, @code, @decision, @arguments, @detail, @prevHash, @hash)`,
    )
    .run(entry);
};

const entryAt = (entries: readonly AuditEntry[], seq: number): AuditEntry => {
  const entry = entries.find((candidate) => candidate.seq === seq);
  if (entry === undefined) throw new Error(`no record ${seq}`);
  return entry;
};

describe('verify() after tampering', () => {
  it('names a record whose fields were edited', async () => {
    const { log } = await tamperWith((raw) => raw.prepare(`UPDATE audit_records SET arguments = '{"n":99}' WHERE seq = 3`).run());
    using _log = log;
    expect(log.verify()).toMatchObject({ ok: false, firstBrokenSeq: 3, reason: expect.stringMatching(/modified/) });
  });

  it('names the next record when the edited one had its hash recomputed', async () => {
    const { log } = await tamperWith((raw, original) => {
      const forged = { ...entryAt(original, 3), detail: 'nothing to see' };
      raw.prepare('UPDATE audit_records SET detail = ?, hash = ? WHERE seq = 3').run(forged.detail, hashAuditFields(forged));
    });
    using _log = log;
    expect(log.verify()).toMatchObject({ ok: false, firstBrokenSeq: 4, reason: expect.stringMatching(/does not link/) });
  });

  it('names a deleted record by its missing seq', async () => {
    const { log } = await tamperWith((raw) => raw.prepare('DELETE FROM audit_records WHERE seq = 3').run());
    using _log = log;
    expect(log.verify()).toMatchObject({ ok: false, firstBrokenSeq: 3, reason: expect.stringMatching(/missing/) });
  });

  it('detects two records swapped in place', async () => {
    const { log } = await tamperWith((raw, original) => {
      raw.prepare('DELETE FROM audit_records WHERE seq IN (3, 4)').run();
      insertRow(raw, { ...entryAt(original, 4), seq: 3 });
      insertRow(raw, { ...entryAt(original, 3), seq: 4 });
    });
    using _log = log;
    expect(log.verify()).toMatchObject({ ok: false, firstBrokenSeq: 3 });
  });

  it('detects a record removed and re-inserted at the end', async () => {
    const { log } = await tamperWith((raw, original) => {
      raw.prepare('DELETE FROM audit_records WHERE seq = 2').run();
      insertRow(raw, { ...entryAt(original, 2), seq: 9 });
    });
    using _log = log;
    expect(log.verify()).toMatchObject({ ok: false, firstBrokenSeq: 2, reason: expect.stringMatching(/missing/) });
  });

  it('names a record whose prev_hash was rewritten', async () => {
    const { log } = await tamperWith((raw) => raw.prepare('UPDATE audit_records SET prev_hash = ? WHERE seq = 5').run('f'.repeat(64)));
    using _log = log;
    expect(log.verify()).toMatchObject({ ok: false, firstBrokenSeq: 5, reason: expect.stringMatching(/does not link/) });
  });

  it('misses a truncated tail without an anchor, and catches it with one', async () => {
    let anchor = { seq: 0, hash: '' };
    const { log } = await tamperWith((raw, original) => {
      anchor = { seq: 8, hash: entryAt(original, 8).hash };
      raw.prepare('DELETE FROM audit_records WHERE seq > 6').run();
    });
    using _log = log;
    // A shorter chain is still a valid chain: only a head kept elsewhere shows records went missing.
    expect(log.verify()).toMatchObject({ ok: true, count: 6 });
    const verdict = log.verify(anchor);
    expect(verdict).toMatchObject({ ok: false, firstBrokenSeq: 7, reason: expect.stringMatching(/removed/) });
    if (!verdict.ok) expect(chainBrokenError(verdict, log.path).code).toBe('AUDIT_CHAIN_BROKEN');
  });

  it('catches a history rewritten from the start when an anchor is kept', async () => {
    let anchor = { seq: 0, hash: '' };
    const { log } = await tamperWith((raw, original) => {
      anchor = { seq: 4, hash: entryAt(original, 4).hash };
      // A full rewrite recomputes every hash, so the chain alone verifies; the anchor does not match.
      raw.prepare('DELETE FROM audit_records').run();
      let prevHash = '0'.repeat(64);
      for (const entry of original) {
        const fields = { ...entry, prevHash, detail: entry.seq === 1 ? 'rewritten' : entry.detail };
        const rewritten = { ...fields, hash: hashAuditFields(fields) };
        insertRow(raw, rewritten);
        prevHash = rewritten.hash;
      }
    });
    using _log = log;
    expect(log.verify()).toMatchObject({ ok: true, count: 8 });
    expect(log.verify(anchor)).toMatchObject({ ok: false, firstBrokenSeq: 4, reason: expect.stringMatching(/anchored/) });
  });
});
