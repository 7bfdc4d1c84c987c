// Prints what tool-calls.mjs measured: one table for the three paths, then the core's memory and
// audit log, the audit log's own commit cost, and each target against its number.
import { loadavg } from 'node:os';
import { DEFAULT_LIMITS } from '../../dist/core/container-spec.js';

const us = (value) => (Number.isFinite(value) ? `${Math.round(value)}` : 'n/a');
const rate = (value) => (Number.isFinite(value) ? `${Math.round(value).toLocaleString('en-US')}` : 'n/a');
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

const LABELS = {
  a: '(a) raw echo, host ROUTER <-> container',
  b: '(b) raw relay, caller -> relay -> container',
  c: '(c) Carapace, caller -> core (pipeline, audit) -> echo plugin',
};

function cpu(result) {
  const parts = Object.entries(result.cpuUsPerCall).map(([role, value]) => `${role} ${us(value)}`);
  return parts.join(', ');
}

export function printReport({ machine, options, results, auditCommits }) {
  const lines = [];
  const out = (line = '') => lines.push(line);
  out(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.ramGiB} GiB RAM, ${machine.os}, kernel ${machine.kernel}`);
  out(`         ${machine.runtime} (${machine.ociRuntime}), Node ${machine.node}, disk ${machine.disk}, ${machine.date}`);
  out(`         load average (1 min) before ${machine.loadBefore.toFixed(2)}, after ${loadavg()[0].toFixed(2)}; plugin container CPU quota ${options.pluginCpus ?? `${DEFAULT_LIMITS.nanoCpus / 1e9} (the default)`}; (c) audit.sync ${options.auditSync ?? 'batched (the default)'}`);
  out(
    `load: 1 caller x ${options.calls} calls after ${options.warmup} warm-up; ${options.callers} callers (own connection each) x ${options.perCaller} calls, ` +
      `${options.inFlight} in flight per caller, after ${options.callerWarmup} warm-up each; payload ${options.payloadChars} chars; (c) callers: ${options.client === 'wire' ? 'plain DEALERs speaking the wire format' : 'connectCallerClient'}`,
  );
  out();
  out(`| path | 1 caller p50 us | p99 us | calls/s | ${options.callers} callers calls/s | p50 us | p99 us | replies expected / received | dropped | CPU us per call (${options.callers} callers) |`);
  out('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const [key, result] of Object.entries(results)) {
    const { sequential: s, concurrent: c } = result;
    out(
      `| ${LABELS[key]} | ${us(s.p50Us)} | ${us(s.p99Us)} | ${rate(s.callsPerSecond)} | ${rate(c.callsPerSecond)} | ${us(c.p50Us)} | ${us(c.p99Us)} | ` +
        `${s.calls + c.calls} / ${s.received + c.received} | ${s.dropped + c.dropped} | ${cpu(c)} |`,
    );
  }
  out();
  for (const [key, result] of Object.entries(results)) {
    const detail = Object.entries(result.concurrent.cpuDetail).map(
      ([role, d]) => `${role} user ${us(d.user)} + system ${us(d.system)} (${Object.entries(d.threads).sort((x, y) => y[1] - x[1]).map(([name, value]) => `${name} ${us(value)}`).join(', ')})`,
    );
    out(`CPU us per call in ${key}, ${options.callers} callers: ${detail.join('; ')}`);
  }
  const wrong = Object.entries(results).filter(([, r]) => r.sequential.wrong + r.concurrent.wrong > 0);
  for (const [key, r] of wrong) out(`WRONG replies in ${key}: ${r.sequential.wrong + r.concurrent.wrong}`);
  const core = results.c;
  if (core !== undefined) {
    const { before, after } = core.memory;
    out(
      `core memory (heap after a full GC): before the calls RSS ${mib(before.rss)}, heap ${mib(before.heapUsed)} of ${mib(before.heapTotal)}; ` +
        `after RSS ${mib(after.rss)}, heap ${mib(after.heapUsed)} of ${mib(after.heapTotal)}; peak RSS ${mib(after.peakRss)} (start-up included)`,
    );
    out(`core audit log: ${core.audit.records} records written during the run (${core.audit.expectedCalls} calls incl. warm-up); chain ${core.audit.chain.ok ? 'intact' : `BROKEN: ${JSON.stringify(core.audit.chain)}`}`);
    out(`core replies by code: ${JSON.stringify(core.replyCodes)}; core counters at stop: ${JSON.stringify(core.coreCounters)}`);
  }
  if (results.b?.memory !== undefined) out(`relay memory after: RSS ${mib(results.b.memory.usage.rss)}, heap ${mib(results.b.memory.after.heapUsed)}`);
  if (auditCommits !== undefined) {
    const { intent, outcome, group, batch } = auditCommits;
    out(
      `audit log alone: intent (fsynced) p50 ${us(intent.p50Us)} us, p99 ${us(intent.p99Us)} us; outcome (not fsynced) p50 ${us(outcome.p50Us)} us; ` +
        `${batch} intents in one commit p50 ${us(group.p50Us)} us`,
    );
  }
  for (const [key, result] of Object.entries(results)) {
    const profile = result.concurrent.profile;
    if (profile === undefined) continue;
    out();
    out(`CPU profile of ${key} (${options.callers} callers phase, ${Math.round(profile.totalMs)} ms): ${profile.path}`);
    for (const source of profile.sources) out(`  ${(source.share * 100).toFixed(1).padStart(5)}%  ${source.name}`);
    out('  top functions (self time):');
    for (const fn of profile.functions) out(`  ${(fn.share * 100).toFixed(1).padStart(5)}%  ${fn.name}`);
    out('  Carapace functions (inclusive time):');
    for (const fn of profile.inclusive) out(`  ${(fn.share * 100).toFixed(1).padStart(5)}%  ${fn.name}`);
  }
  if (results.b !== undefined && core !== undefined) {
    out();
    const ratio = core.sequential.p50Us / results.b.sequential.p50Us;
    const ratioConcurrent = core.concurrent.p50Us / results.b.concurrent.p50Us;
    const dropped = Object.values(results).reduce((sum, r) => sum + r.sequential.dropped + r.concurrent.dropped, 0);
    out(`target (c) p50 within 2x of (b): 1 caller ${ratio.toFixed(2)}x, ${options.callers} callers ${ratioConcurrent.toFixed(2)}x -> ${ratio <= 2 && ratioConcurrent <= 2 ? 'met' : 'MISSED'}`);
    out(`target >= 5,000 calls/s with ${options.callers} callers: ${rate(core.concurrent.callsPerSecond)} -> ${core.concurrent.callsPerSecond >= 5000 ? 'met' : 'MISSED'}`);
    out(`target 0 dropped replies: ${dropped} -> ${dropped === 0 ? 'met' : 'MISSED'}`);
  }
  console.log(lines.join('\n'));
}
