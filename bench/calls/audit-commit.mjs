// How much of a call is the audit log's own cost, measured apart from everything else: a fresh log
// on the same filesystem as the bench home, the records the core writes for one echo call. An
// intent commits with synchronous=FULL (an fsync of the WAL); an outcome with NORMAL (no fsync).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAuditLog } from '../../dist/store/audit-log.js';
import { percentile } from './load.mjs';

const call = (index, text) => ({
  callId: `bench-${index}`,
  topic: 'echo.echo',
  source: 'echo',
  caller: 'operator',
  group: 'operator',
  stage: 'route',
  arguments: { text },
  detail: `risk low; session s; correlation c-${index}`,
});

function timed(runs, step) {
  const times = [];
  for (let index = 0; index < runs; index++) {
    const started = performance.now();
    step(index);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50Us: percentile(times, 50) * 1000, p99Us: percentile(times, 99) * 1000 };
}

/** p50/p99 of: one fsynced intent, one outcome, and one batch of `batch` intents (group commit). */
export async function measureAuditCommits({ runs, batch, text }) {
  const dir = await mkdtemp(join(tmpdir(), 'carapace-bench-audit-'));
  const log = openAuditLog(join(dir, 'audit.db'));
  try {
    let next = 0;
    const intent = timed(runs, () => log.appendMany([{ kind: 'intent', decision: 'allowed', ...call(next++, text) }]));
    const outcome = timed(runs, () => log.appendMany([{ kind: 'outcome', decision: 'succeeded', ...call(next++, text), detail: '0 ms' }]));
    const group = timed(Math.max(10, Math.floor(runs / batch)), () =>
      log.appendMany(Array.from({ length: batch }, () => ({ kind: 'intent', decision: 'allowed', ...call(next++, text) }))),
    );
    return { intent, outcome, group, batch };
  } finally {
    log.close();
    await rm(dir, { recursive: true, force: true });
  }
}
