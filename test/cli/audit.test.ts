import { createHash } from 'node:crypto';
import { copyFile, lstat, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { homeLayout } from '../../src/config/carapace-home.js';
import { verifyChain } from '../../src/store/audit-chain.js';
import { openAuditLog, type AuditLog } from '../../src/store/audit-log.js';
import type { AuditEntry } from '../../src/store/audit-record.js';
import { freshHome } from '../support/run-cli-in-process.js';
import { runBuiltCli, runWithIo } from './cli-io.js';

const errorOf = (stdout: string): { code: string; message: string; firstBrokenSeq?: number } =>
  (JSON.parse(stdout) as { error: { code: string; message: string; firstBrokenSeq?: number } }).error;
const sha256 = async (path: string): Promise<string> => createHash('sha256').update(await readFile(path)).digest('hex');

/** A home whose audit.db was written by the real store, as the core writes it. */
async function homeWithLog(calls: number, write?: (log: AuditLog) => void): Promise<{ home: string; file: string; entries: AuditEntry[] }> {
  const home = await freshHome();
  await mkdir(home, { recursive: true, mode: 0o700 });
  const file = homeLayout(home).auditFile;
  using log = openAuditLog(file);
  log.append({ kind: 'lifecycle', topic: 'core.started' });
  for (let index = 1; index <= calls; index += 1) {
    log.recordIntent({ callId: `call-${index}`, topic: 'echo.say', source: 'echo', caller: 'cli', group: 'default', arguments: { n: index } });
    log.recordOutcome({ callId: `call-${index}`, decision: 'succeeded', topic: 'echo.say', source: 'echo' });
  }
  log.recordRefusal({ decision: 'refused', stage: 'authorize', code: 'UNAUTHORIZED', topic: 'files.delete', source: 'files', caller: 'cli' });
  write?.(log);
  return { home, file, entries: log.tail(100_000) };
}

/** A copy of `home`'s log in a new home, with one row edited behind the log's back. */
async function tamperedCopy(home: string, sql: string): Promise<string> {
  const copy = await freshHome();
  await mkdir(copy, { recursive: true, mode: 0o700 });
  await copyFile(homeLayout(home).auditFile, homeLayout(copy).auditFile);
  const raw = new Database(homeLayout(copy).auditFile);
  try {
    raw.exec('DROP TRIGGER audit_records_no_update; DROP TRIGGER audit_records_no_delete;');
    raw.exec(sql);
  } finally {
    raw.close();
  }
  return copy;
}

describe('carapace audit verify', () => {
  it('passes a log written by the store, with its record count, and leaves the file as it was', async () => {
    const { home, file, entries } = await homeWithLog(3);
    const before = await sha256(file);
    const text = await runWithIo(['--home', home, 'audit', 'verify']);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^PASS: 8 records, hash chain intact; head 8:[0-9a-f]{64}\n$/);
    const json = await runWithIo(['--json', '--home', home, 'audit', 'verify']);
    expect(JSON.parse(json.stdout)).toEqual({ ok: true, file, count: 8, head: { seq: 8, hash: entries[7]?.hash }, anchored: false });
    expect(await sha256(file)).toBe(before);
  });

  it('fails a tampered copy with AUDIT_CHAIN_BROKEN naming the first broken record, exit 7', async () => {
    const { home } = await homeWithLog(3);
    const edited = await tamperedCopy(home, `UPDATE audit_records SET arguments = '{"n":99}' WHERE seq = 4`);
    const text = await runWithIo(['--home', edited, 'audit', 'verify']);
    expect(text.status).toBe(7);
    expect(text.stderr).toContain('record 4');
    expect(text.stderr).toContain('[AUDIT_CHAIN_BROKEN]');
    const json = await runWithIo(['--json', '--home', edited, 'audit', 'verify']);
    expect(json.status).toBe(7);
    expect(errorOf(json.stdout)).toMatchObject({ code: 'AUDIT_CHAIN_BROKEN', firstBrokenSeq: 4 });

    const deleted = await tamperedCopy(home, 'DELETE FROM audit_records WHERE seq = 2');
    expect(errorOf((await runWithIo(['--json', '--home', deleted, 'audit', 'verify'])).stdout)).toMatchObject({ firstBrokenSeq: 2 });

    // The built CLI exits with the same status.
    expect((await runBuiltCli(['--home', edited, 'audit', 'verify'])).code).toBe(7);
  });

  it('with --anchor, catches a cut-off tail the chain alone cannot', async () => {
    const { home, entries } = await homeWithLog(3);
    const head = entries[entries.length - 1];
    const anchor = `${head?.seq}:${head?.hash}`;
    expect((await runWithIo(['--home', home, 'audit', 'verify', '--anchor', anchor])).stdout).toContain('anchor matched');
    const truncated = await tamperedCopy(home, `DELETE FROM audit_records WHERE seq = ${head?.seq}`);
    expect((await runWithIo(['--home', truncated, 'audit', 'verify'])).status).toBe(0);
    const anchored = await runWithIo(['--json', '--home', truncated, 'audit', 'verify', '--anchor', anchor]);
    expect(anchored.status).toBe(7);
    expect(errorOf(anchored.stdout)).toMatchObject({ code: 'AUDIT_CHAIN_BROKEN', firstBrokenSeq: head?.seq });
    expect((await runWithIo(['--home', home, 'audit', 'verify', '--anchor', '8:nothex'])).status).toBe(2);
  });

  it('refuses a missing log with AUDIT_NOT_FOUND (a deleted log must not pass) and creates nothing', async () => {
    const home = await freshHome();
    const verify = await runWithIo(['--json', '--home', home, 'audit', 'verify']);
    expect(verify.status).toBe(7);
    expect(errorOf(verify.stdout).code).toBe('AUDIT_NOT_FOUND');
    const exported = await runWithIo(['--home', home, 'audit', 'export', '--jsonl']);
    expect(exported).toMatchObject({ status: 7, stdout: '' });
    expect(exported.stderr).toContain('[AUDIT_NOT_FOUND]');
    await expect(lstat(home)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a log that is not owner-only with AUDIT_INSECURE', async () => {
    const { home, file } = await homeWithLog(1);
    const { chmod } = await import('node:fs/promises');
    await chmod(file, 0o644);
    expect(errorOf((await runWithIo(['--json', '--home', home, 'audit', 'verify'])).stdout).code).toBe('AUDIT_INSECURE');
  });
});

describe('carapace audit export', () => {
  it('writes every record as one JSON line to stdout, which verifies as a chain', async () => {
    const { home, entries } = await homeWithLog(3);
    const run = await runWithIo(['--home', home, 'audit', 'export', '--jsonl']);
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/^exported 8 records from .*audit\.db\n$/);
    const lines = run.stdout.split('\n');
    expect(lines.pop()).toBe('');
    const parsed = lines.map((line) => JSON.parse(line) as AuditEntry);
    expect(parsed).toEqual(entries);
    expect(verifyChain(parsed)).toMatchObject({ ok: true, count: 8 });
  });

  it('writes a file atomically, mode 0600, leaving no temp file, replacing an older export', async () => {
    const { home, entries } = await homeWithLog(2);
    const dir = await freshHome();
    await mkdir(dir, { recursive: true });
    const output = join(dir, 'audit.jsonl');
    await writeFile(output, 'old export\n', { mode: 0o644 });
    const previous = process.umask(0o000);
    let run;
    try {
      run = await runWithIo(['--json', '--home', home, 'audit', 'export', '--jsonl', '--output', output]);
    } finally {
      process.umask(previous);
    }
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ output, records: 6, head: { seq: 6 } });
    expect((await lstat(output)).mode & 0o777).toBe(0o600);
    const parsed = (await readFile(output, 'utf8')).trimEnd().split('\n').map((line) => JSON.parse(line) as AuditEntry);
    expect(parsed).toEqual(entries);
    expect(await readdir(dir)).toEqual(['audit.jsonl']);
  });

  it('refuses --json without --output, and a missing --jsonl, as usage errors', async () => {
    const { home } = await homeWithLog(1);
    expect((await runWithIo(['--json', '--home', home, 'audit', 'export', '--jsonl'])).status).toBe(2);
    expect((await runWithIo(['--home', home, 'audit', 'export'])).status).toBe(2);
  });

  it('streams a large log through a real pipe from the built CLI', async () => {
    const { home, entries } = await homeWithLog(0, (log) =>
      log.appendMany(Array.from({ length: 5000 }, (_, index) => ({ kind: 'lifecycle' as const, topic: 'plugin.ready', detail: `r${index}`.repeat(40) }))),
    );
    const run = await runBuiltCli(['--home', home, 'audit', 'export', '--jsonl']);
    expect(run.code).toBe(0);
    const parsed = run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as AuditEntry);
    expect(parsed).toHaveLength(entries.length);
    expect(verifyChain(parsed)).toMatchObject({ ok: true, count: entries.length });
  });
});

describe('carapace audit tail', () => {
  it('prints the last N records, one line each: time, outcome, topic, source, code', async () => {
    const { home, entries } = await homeWithLog(3);
    const run = await runWithIo(['--home', home, 'audit', 'tail', '-n', '3']);
    expect(run.status).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  #6  intent +allowed +echo\.say  echo  -$/);
    expect(lines[1]).toMatch(/  #7  outcome +succeeded +echo\.say  echo  -$/);
    expect(lines[2]).toMatch(/  #8  refusal +refused +files\.delete  files  UNAUTHORIZED$/);

    const json = await runWithIo(['--json', '--home', home, 'audit', 'tail', '-n', '2']);
    expect((JSON.parse(json.stdout) as { records: AuditEntry[] }).records).toEqual(entries.slice(-2));
    expect((await runWithIo(['--home', home, 'audit', 'tail', '-n', '0'])).status).toBe(2);
  });

  it('shows control characters a plugin put in a topic escaped, not raw', async () => {
    const { home } = await homeWithLog(0, (log) => log.append({ kind: 'lifecycle', topic: 'evil\u001b[2J\u001b[Hfake', source: 'x\u202ey' }));
    const run = await runWithIo(['--home', home, 'audit', 'tail', '-n', '1']);
    expect(run.stdout).not.toContain('\u001b');
    expect(run.stdout).not.toContain('\u202e');
    expect(run.stdout).toContain('evil\\u001b[2J\\u001b[Hfake  x\\u202ey');
  });

  it('says there is no log yet, exit 0, without creating one', async () => {
    const home = await freshHome();
    const run = await runWithIo(['--home', home, 'audit', 'tail']);
    expect(run).toMatchObject({ status: 0, stdout: `no audit log yet: ${homeLayout(home).auditFile} does not exist\n` });
    await expect(lstat(home)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('with --follow, prints records as the core appends them until interrupted', async () => {
    const { home, file } = await homeWithLog(1);
    let stop!: () => void;
    const interrupted = new Promise<void>((resolve) => (stop = resolve));
    let seen = '';
    const waitFor = async (text: string): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!seen.includes(text)) {
        if (Date.now() > deadline) throw new Error(`no ${JSON.stringify(text)} in ${seen}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const running = runWithIo(['--home', home, 'audit', 'tail', '-n', '1', '--follow'], { interrupted, onStdout: (text) => void (seen += text) });
    await waitFor('#4  refusal');
    expect(seen).not.toContain('#3 ');
    {
      using log = openAuditLog(file);
      log.recordIntent({ callId: 'late', topic: 'echo.late', source: 'echo' });
    }
    await waitFor('echo.late');
    stop();
    const run = await running;
    expect(run.status).toBe(0);
    expect(run.stdout.trimEnd().split('\n')).toHaveLength(2);
  });
});
