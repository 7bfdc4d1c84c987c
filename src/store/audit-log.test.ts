import { lstatSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { verifyChain } from './audit-chain.js';
import { openAuditLog, type AuditLog } from './audit-log.js';
import type { AuditEntry } from './audit-record.js';
import { AUDIT_MIGRATIONS } from './audit-schema.js';

const tempDb = async (): Promise<string> => join(await mkdtemp(join(tmpdir(), 'carapace-audit-')), 'audit.db');
const fixedClock = { now: (): number => Date.parse('2026-11-23T10:00:00.000Z') };

function recordCall(log: AuditLog, callId: string): void {
  log.recordIntent({ callId, topic: 'echo.say', source: 'echo', caller: 'cli', group: 'default', arguments: { text: callId } });
  log.recordOutcome({ callId, decision: 'succeeded', topic: 'echo.say', source: 'echo' });
}

describe('openAuditLog', () => {
  it('creates an owner-only WAL database whose companion files are owner-only too', async () => {
    const path = await tempDb();
    const previous = process.umask(0o022);
    try {
      using log = openAuditLog(path);
      recordCall(log, 'c1');
      for (const file of [path, `${path}-wal`, `${path}-shm`]) expect(lstatSync(file).mode & 0o777).toBe(0o600);
      expect(log.verify()).toMatchObject({ ok: true, count: 2 });
    } finally {
      process.umask(previous);
    }
  });

  it('chains records: seq counts from 1, each prev_hash is the previous hash', async () => {
    using log = openAuditLog(await tempDb(), { clock: fixedClock });
    recordCall(log, 'c1');
    log.recordRefusal({ decision: 'refused', stage: 'topic', code: 'UNKNOWN_TOOL', topic: 'nope', caller: 'cli' });
    log.append({ kind: 'lifecycle', topic: 'core.stopped' });
    const entries = log.tail(10);
    expect(entries.map((entry) => [entry.seq, entry.kind, entry.decision])).toEqual([
      [1, 'intent', 'allowed'],
      [2, 'outcome', 'succeeded'],
      [3, 'refusal', 'refused'],
      [4, 'lifecycle', null],
    ]);
    expect(entries[0]?.prevHash).toBe('0'.repeat(64));
    expect(entries[1]?.prevHash).toBe(entries[0]?.hash);
    expect(entries[0]?.arguments).toBe('{"text":"c1"}');
    expect(entries[0]?.timestamp).toBe('2026-11-23T10:00:00.000Z');
    expect(log.tail(1).map((entry) => entry.seq)).toEqual([4]);
    expect(log.head()).toEqual({ seq: 4, hash: entries[3]?.hash });
    expect(log.verify()).toEqual({ ok: true, count: 4, head: log.head() });
  });

  it('verifies an empty log', async () => {
    using log = openAuditLog(await tempDb());
    expect(log.verify()).toEqual({ ok: true, count: 0, head: undefined });
  });

  it('refuses UPDATE and DELETE at the SQL level', async () => {
    const path = await tempDb();
    using log = openAuditLog(path);
    recordCall(log, 'c1');
    const raw = new Database(path);
    try {
      expect(() => raw.prepare("UPDATE audit_records SET detail = 'x' WHERE seq = 1").run()).toThrow(/append-only/);
      expect(() => raw.prepare('DELETE FROM audit_records WHERE seq = 2').run()).toThrow(/append-only/);
    } finally {
      raw.close();
    }
    expect(log.verify()).toMatchObject({ ok: true, count: 2 });
  });

  it('refuses at the SQL level an insert that does not extend the chain', async () => {
    const path = await tempDb();
    using log = openAuditLog(path);
    recordCall(log, 'c1');
    recordCall(log, 'c2');
    const [first, second, , last] = log.tail(10);
    if (first === undefined || second === undefined || last === undefined) throw new Error('expected four records');
    const raw = new Database(path);
    const insert = raw.prepare(`INSERT INTO audit_records (seq, timestamp, kind, prev_hash, hash) VALUES (?, 't', 'lifecycle', ?, 'h')`);
    try {
      // A fork: a second record after record 1, appended at the end.
      expect(() => insert.run(5, first.hash)).toThrow(/must follow the last one/);
      // A gap, and a record that links to the last hash but skips a seq.
      expect(() => insert.run(6, last.hash)).toThrow(/must follow the last one/);
      // A record in the middle, and the next seq with a made-up link.
      expect(() => insert.run(2, first.hash)).toThrow();
      expect(() => insert.run(5, 'f'.repeat(64))).toThrow(/must follow the last one/);
      // The only insert the table takes: the next seq, linked to the last hash.
      expect(() => insert.run(5, last.hash)).not.toThrow();
    } finally {
      raw.close();
    }
    expect(log.verify()).toMatchObject({ ok: false, firstBrokenSeq: 5 });
  });

  it('migrates a version 1 log (UNIQUE prev_hash) to the chain trigger, keeping every record', async () => {
    const path = await tempDb();
    {
      using log = openAuditLog(path);
      for (let call = 1; call <= 50; call += 1) recordCall(log, `c${call}`);
    }
    // Rebuild the same records as schema version 1 left them.
    const records = new Database(path, { readonly: true }).prepare('SELECT * FROM audit_records ORDER BY seq').all();
    const v1Path = await tempDb();
    const v1 = new Database(v1Path);
    v1.exec(AUDIT_MIGRATIONS[0] ?? '');
    v1.pragma('user_version = 1');
    const columns = Object.keys(records[0] as object);
    const insertV1 = v1.prepare(`INSERT INTO audit_records (${columns.map((name) => `"${name}"`).join(', ')}) VALUES (${columns.map((name) => `@${name}`).join(', ')})`);
    for (const record of records) insertV1.run(record);
    v1.close();
    chmodSync(v1Path, 0o600);

    using migrated = openAuditLog(v1Path);
    expect(migrated.verify()).toMatchObject({ ok: true, count: 100 });
    recordCall(migrated, 'after');
    expect(migrated.verify()).toMatchObject({ ok: true, count: 102 });
    const raw = new Database(v1Path, { readonly: true });
    try {
      const triggers = raw.prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger' ORDER BY name").pluck().all();
      expect(triggers).toEqual(['audit_records_extend_chain', 'audit_records_no_delete', 'audit_records_no_update']);
      expect(raw.prepare("SELECT sql FROM sqlite_schema WHERE name = 'audit_records'").pluck().get()).not.toMatch(/UNIQUE/);
    } finally {
      raw.close();
    }
  });

  it('finds intents whose outcome never came', async () => {
    using log = openAuditLog(await tempDb());
    recordCall(log, 'done');
    log.recordIntent({ callId: 'in-flight', topic: 'memory.delete', source: 'memory', decision: 'confirmed' });
    expect(log.intentsWithoutOutcome().map((entry) => [entry.callId, entry.decision])).toEqual([['in-flight', 'confirmed']]);
  });

  it('runs the caller sanitizer over every string, argument keys included', async () => {
    const sanitize = (text: string): string => text.replaceAll('hunter2', '[REDACTED]');
    using log = openAuditLog(await tempDb(), { sanitize });
    const entry = log.recordIntent({
      callId: 'c1',
      topic: 'x.hunter2',
      arguments: { password: 'hunter2', nested: ['a "hunter2" b'], hunter2: 1 },
      detail: 'said hunter2',
    });
    expect(JSON.stringify(entry)).not.toContain('hunter2');
    expect(JSON.parse(entry.arguments ?? '')).toEqual({ password: '[REDACTED]', nested: ['a "[REDACTED]" b'], '[REDACTED]': 1 });
  });

  it('stores text exactly as hashed, even NUL bytes and lone surrogates', async () => {
    const path = await tempDb();
    {
      using log = openAuditLog(path);
      log.recordIntent({ callId: 'c1', topic: 'a\u0000b', arguments: { k: 'x\uD800y' }, detail: '\uDC00 and 🦀' });
    }
    using reopened = openAuditLog(path);
    const [entry] = reopened.tail(1);
    expect(entry?.topic).toBe('a\u0000b');
    expect(entry?.arguments).toBe('{"k":"x\uFFFDy"}');
    expect(entry?.detail).toBe('\uFFFD and 🦀');
    expect(reopened.verify()).toMatchObject({ ok: true });
  });

  it('fails closed when a record is malformed or the sanitizer fails', async () => {
    using log = openAuditLog(await tempDb(), {
      sanitize: (text) => {
        if (text === 'boom') throw new Error('sanitizer bug');
        return text;
      },
    });
    expect(() => log.recordIntent({ callId: 'c1', topic: 'boom' })).toThrow(expect.objectContaining({ code: 'AUDIT_WRITE_FAILED' }));
    expect(() => log.append({ kind: 'outcome', decision: 'allowed', callId: 'c1' })).toThrow(
      expect.objectContaining({ code: 'AUDIT_WRITE_FAILED' }),
    );
    expect(() => log.append({ kind: 'intent', decision: 'allowed' })).toThrow(expect.objectContaining({ code: 'AUDIT_WRITE_FAILED' }));
    expect(log.verify()).toMatchObject({ ok: true, count: 0 });
  });

  it('appends a batch in one transaction with one chain', async () => {
    using log = openAuditLog(await tempDb());
    const entries = log.appendMany([
      { kind: 'intent', decision: 'allowed', callId: 'a' },
      { kind: 'intent', decision: 'allowed', callId: 'b' },
    ]);
    expect(entries.map((entry) => entry.seq)).toEqual([1, 2]);
    expect(entries[1]?.prevHash).toBe(entries[0]?.hash);
    // A bad record anywhere in the batch writes none of it.
    expect(() => log.appendMany([{ kind: 'intent', decision: 'allowed', callId: 'c' }, { kind: 'intent', decision: 'allowed' }])).toThrow();
    expect(log.verify()).toMatchObject({ ok: true, count: 2 });
  });

  it('exports JSON lines that parse back to the stored entries and verify on their own', async () => {
    using log = openAuditLog(await tempDb());
    for (let index = 0; index < 260; index += 1) recordCall(log, `call-${index}`);
    const sink = new PassThrough();
    const chunks: string[] = [];
    sink.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
    expect(await log.exportJsonlTo(sink)).toBe(520);
    const lines = chunks.join('').split('\n');
    expect(lines.pop()).toBe('');
    const parsed = lines.map((line) => JSON.parse(line) as AuditEntry);
    expect(parsed).toEqual(log.tail(520));
    expect(verifyChain(parsed)).toMatchObject({ ok: true, count: 520 });
  });

  it('refuses an audit file that is a symlink, group-readable, or owned by someone else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'carapace-audit-'));
    const target = join(dir, 'elsewhere.db');
    writeFileSync(target, '', { mode: 0o600 });
    symlinkSync(target, join(dir, 'link.db'));
    expect(() => openAuditLog(join(dir, 'link.db'))).toThrow(expect.objectContaining({ code: 'AUDIT_INSECURE' }));

    const loose = join(dir, 'loose.db');
    openAuditLog(loose).close();
    chmodSync(loose, 0o644);
    expect(() => openAuditLog(loose)).toThrow(expect.objectContaining({ code: 'AUDIT_INSECURE' }));

    const foreign = join(dir, 'foreign.db');
    openAuditLog(foreign).close();
    (await import('node:fs')).chownSync(foreign, 4242, 4242);
    expect(() => openAuditLog(foreign)).toThrow(expect.objectContaining({ code: 'AUDIT_INSECURE' }));

    const plantedWal = join(dir, 'planted.db');
    symlinkSync(target, `${plantedWal}-wal`);
    expect(() => openAuditLog(plantedWal)).toThrow(expect.objectContaining({ code: 'AUDIT_INSECURE' }));
  });

  it('refuses a file that is not a database, and one from a newer Carapace', async () => {
    const path = await tempDb();
    writeFileSync(path, 'not sqlite at all, just some bytes'.repeat(10), { mode: 0o600 });
    expect(() => openAuditLog(path)).toThrow(expect.objectContaining({ code: 'AUDIT_UNAVAILABLE' }));

    const newer = await tempDb();
    openAuditLog(newer).close();
    const raw = new Database(newer);
    raw.pragma(`user_version = ${AUDIT_MIGRATIONS.length + 1}`);
    raw.close();
    expect(() => openAuditLog(newer)).toThrow(expect.objectContaining({ code: 'AUDIT_UNAVAILABLE' }));
  });

  it('migrates once and keeps records across reopening', async () => {
    const path = await tempDb();
    openAuditLog(path).close();
    using log = openAuditLog(path);
    recordCall(log, 'c1');
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(AUDIT_MIGRATIONS.length);
    raw.close();
  });

  it('refuses to be used after close', async () => {
    const log = openAuditLog(await tempDb());
    log.close();
    expect(() => recordCall(log, 'late')).toThrow(expect.objectContaining({ code: 'AUDIT_UNAVAILABLE' }));
  });
});
