import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { transpileForChild } from '../../test/support/typescript-child.js';
import { openAuditLog } from './audit-log.js';

/**
 * Real second processes against a real file: a writer killed right after an intent returns, and
 * two writers appending at the same moment.
 */

const CHILD = `
import { openAuditLog } from './src/store/audit-log.js';
const [path, mode, countText, startAtText] = process.argv.slice(2);
const batched = mode.endsWith('-batched');
const log = openAuditLog(path, batched ? { sync: 'batched', syncIntervalMs: 50 } : {});
if (mode === 'crash' || mode === 'crash-batched') {
  log.recordIntent({ callId: 'done', topic: 'echo.say', source: 'echo' });
  log.recordOutcome({ callId: 'done', decision: 'succeeded' });
  log.recordIntent({ callId: 'in-flight', topic: 'memory.delete', source: 'memory', arguments: { id: 7 } });
  // No close, no exit handlers: the process dies the instant the intent is acknowledged.
  process.kill(process.pid, 'SIGKILL');
}
if (mode === 'fsyncs') {
  // Markers on stderr split the syscall trace: lifecycle records first, then intents.
  process.stderr.write('MARK-NORMAL\\n');
  for (let index = 0; index < 5; index += 1) log.append({ kind: 'lifecycle', topic: 'tick' });
  process.stderr.write('MARK-INTENTS\\n');
  for (let index = 0; index < 5; index += 1) log.recordIntent({ callId: 'call-' + index });
  process.stderr.write('MARK-END\\n');
  log.close();
}
if (mode === 'fsyncs-batched') {
  process.stderr.write('MARK-INTENTS\\n');
  for (let index = 0; index < 5; index += 1) log.recordIntent({ callId: 'call-' + index });
  process.stderr.write('MARK-WAIT\\n');
  setTimeout(() => {
    process.stderr.write('MARK-WAITED\\n');
    log.close();
  }, 400);
}
if (mode === 'append') {
  while (Date.now() < Number(startAtText)) {}
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let index = 0; index < Number(countText); index += 1) {
    // A short pause between appends: SQLite's busy handler sleeps, so a writer in a tight loop
    // would take the lock back every time and the two would never interleave.
    Atomics.wait(pause, 0, 0, 1);
    log.recordIntent({ callId: process.pid + '-' + index, caller: String(process.pid), arguments: { index } });
  }
  log.close();
}
`;

let childRoot = '';

beforeAll(async () => {
  childRoot = await transpileForChild(['src/store/audit-log.ts']);
  await writeFile(join(childRoot, 'child.mjs'), CHILD);
});

const hasStrace = ((): boolean => {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

function runChild(args: readonly string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(childRoot, 'child.mjs'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

const tempDb = async (): Promise<string> => join(await mkdtemp(join(tmpdir(), 'carapace-audit-proc-')), 'audit.db');

describe('audit log across processes', () => {
  it('keeps an intent whose writer was SIGKILLed right after recordIntent returned', async () => {
    const path = await tempDb();
    const result = await runChild([path, 'crash']);
    expect(result).toMatchObject({ signal: 'SIGKILL', stderr: '' });

    using log = openAuditLog(path);
    expect(log.intentsWithoutOutcome().map((entry) => [entry.seq, entry.callId, entry.arguments])).toEqual([[3, 'in-flight', '{"id":7}']]);
    expect(log.verify()).toMatchObject({ ok: true, count: 3 });
    // The chain carries on from the dead writer's last record.
    log.recordOutcome({ callId: 'in-flight', decision: 'dispatch_failed', detail: 'core restarted' });
    expect(log.verify()).toMatchObject({ ok: true, count: 4 });
  });

  it('keeps a batched intent (committed, not yet fsynced) whose writer was SIGKILLed right after recordIntent returned', async () => {
    const path = await tempDb();
    const result = await runChild([path, 'crash-batched']);
    expect(result).toMatchObject({ signal: 'SIGKILL', stderr: '' });

    using log = openAuditLog(path);
    expect(log.intentsWithoutOutcome().map((entry) => [entry.seq, entry.callId, entry.arguments])).toEqual([[3, 'in-flight', '{"id":7}']]);
    expect(log.verify()).toMatchObject({ ok: true, count: 3 });
  });

  it.skipIf(!hasStrace)('batched: appends never wait for an fsync, and one follows within the interval', async () => {
    const path = await tempDb();
    const trace = join(await mkdtemp(join(tmpdir(), 'carapace-strace-')), 'trace');
    execFileSync('strace', ['-f', '-qq', '-e', 'trace=fsync,fdatasync,write', '-o', trace, process.execPath, join(childRoot, 'child.mjs'), path, 'fsyncs-batched'], {
      stdio: 'ignore',
    });
    const lines = (await readFile(trace, 'utf8')).split('\n');
    const at = (marker: string): number => lines.findIndex((line) => line.includes(marker));
    const syncsBetween = (from: string, to: string): number =>
      lines.slice(at(from), at(to)).filter((line) => /\b(fsync|fdatasync)\(/.test(line)).length;
    expect(at('MARK-WAITED')).toBeGreaterThan(-1);
    expect(syncsBetween('MARK-INTENTS', 'MARK-WAIT')).toBe(0);
    expect(syncsBetween('MARK-WAIT', 'MARK-WAITED')).toBeGreaterThanOrEqual(1);
    using log = openAuditLog(path);
    expect(log.verify()).toMatchObject({ ok: true, count: 5 });
  });

  it.skipIf(!hasStrace)('fsyncs each intent before recordIntent returns, and other records only with the next intent', async () => {
    const path = await tempDb();
    const trace = join(await mkdtemp(join(tmpdir(), 'carapace-strace-')), 'trace');
    execFileSync('strace', ['-f', '-qq', '-e', 'trace=fsync,fdatasync,write', '-o', trace, process.execPath, join(childRoot, 'child.mjs'), path, 'fsyncs'], {
      stdio: 'ignore',
    });
    const lines = (await readFile(trace, 'utf8')).split('\n');
    const at = (marker: string): number => lines.findIndex((line) => line.includes(marker));
    const syncsBetween = (from: string, to: string): number =>
      lines.slice(at(from), at(to)).filter((line) => /\b(fsync|fdatasync)\(/.test(line)).length;
    expect(at('MARK-NORMAL')).toBeGreaterThan(-1);
    expect(syncsBetween('MARK-NORMAL', 'MARK-INTENTS')).toBe(0);
    expect(syncsBetween('MARK-INTENTS', 'MARK-END')).toBeGreaterThanOrEqual(5);
  });

  it('keeps one chain when two processes append at the same time', async () => {
    const path = await tempDb();
    openAuditLog(path).close();
    const startAt = String(Date.now() + 1500);
    const results = await Promise.all([runChild([path, 'append', '300', startAt]), runChild([path, 'append', '300', startAt])]);
    for (const result of results) expect(result).toMatchObject({ code: 0, stderr: '' });

    using log = openAuditLog(path);
    expect(log.verify()).toMatchObject({ ok: true, count: 600 });
    const callers = log.tail(600).map((entry) => entry.caller);
    // Both writers really interleaved (otherwise this test proved nothing about contention).
    const switches = callers.filter((caller, index) => index > 0 && caller !== callers[index - 1]).length;
    expect(switches).toBeGreaterThan(10);
    for (const caller of new Set(callers)) {
      const own = log.tail(600).filter((entry) => entry.caller === caller);
      expect(own.map((entry) => JSON.parse(entry.arguments ?? '').index)).toEqual([...Array(300).keys()]);
    }
  });
});
