// Tool-call latency and throughput, in one run, over three paths (docs/performance.md):
//   (a) a raw ZeroMQ echo across one container boundary (host ROUTER <-> container DEALER);
//   (b) a raw relay with a real call's topology: caller DEALERs -> relay process -> container and
//       back, no pipeline: the physical limit for a tool call;
//   (c) warm `echo.echo` calls through Carapace's full path: `carapace start` in its own home,
//       the six-stage pipeline, the audit intent committed before dispatch, the built-in echo plugin's container.
// Run after `pnpm build` (or `pnpm bench:calls`), as root or as the user the core runs as:
//   node bench/tool-calls.mjs [--socket PODMAN_API_SOCKET] [--calls 2000] [--callers 20]
//        [--per-caller 1000] [--in-flight 1] [--plugin-cpus 0.5] [--only abc] [--client wire|carapace] [--profile DIR]
//        [--audit-sync batched|full]
// Without --socket, Podman is found as the core finds it (a service it starts is stopped after).
// Every container and process the run starts is removed or stopped, by id or PID, even on failure.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { detectRuntime, systemDetectionContext } from '../dist/runtime/detect-runtime.js';
import { measureAuditCommits } from './calls/audit-commit.mjs';
import { Cleanup, cleanUpOnSignals } from './calls/cleanup.mjs';
import { ensureEchoImage } from './calls/echo-container.mjs';
import { describeMachine } from './calls/machine.mjs';
import { printReport } from './calls/report.mjs';
import { fullPath, rawEcho, rawRelay } from './calls/scenarios.mjs';

const { values } = parseArgs({
  options: {
    socket: { type: 'string' },
    calls: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '500' },
    callers: { type: 'string', default: '20' },
    'per-caller': { type: 'string', default: '1000' },
    'caller-warmup': { type: 'string', default: '50' },
    'in-flight': { type: 'string', default: '1' },
    payload: { type: 'string', default: '64' },
    'timeout-ms': { type: 'string', default: '10000' },
    only: { type: 'string', default: 'abc' },
    profile: { type: 'string' },
    'plugin-cpus': { type: 'string' },
    client: { type: 'string', default: 'wire' },
    'audit-sync': { type: 'string' },
  },
});
const count = (name) => {
  const value = Number(values[name]);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, not ${values[name]}`);
  return value;
};
const options = {
  calls: count('calls'),
  warmup: count('warmup'),
  callers: count('callers'),
  perCaller: count('per-caller'),
  callerWarmup: count('caller-warmup'),
  inFlight: count('in-flight'),
  payloadChars: count('payload'),
  timeoutMs: count('timeout-ms'),
  pluginCpus: values['plugin-cpus'] === undefined ? undefined : Number(values['plugin-cpus']),
  client: values.client,
  auditSync: values['audit-sync'],
};
if (!['wire', 'carapace'].includes(options.client)) throw new Error('--client is wire (a plain DEALER, like (a) and (b)) or carapace (connectCallerClient)');
if (options.auditSync !== undefined && !['batched', 'full'].includes(options.auditSync)) throw new Error('--audit-sync is batched or full');
if (options.pluginCpus !== undefined && !(options.pluginCpus > 0 && options.pluginCpus <= 1)) throw new Error('--plugin-cpus must be in (0, 1]');

cleanUpOnSignals();
const run = new Cleanup();
try {
  let apiSocket = values.socket;
  let runtime;
  if (apiSocket === undefined) {
    const runDir = await mkdtemp(join(tmpdir(), 'carapace-bench-run-'));
    run.add('podman run directory', () => rm(runDir, { recursive: true, force: true }));
    const detected = await detectRuntime({ preference: 'podman' }, systemDetectionContext(runDir));
    if (detected.startedService !== undefined) run.add(`podman service pid ${detected.startedService.pid}`, () => detected.startedService.stop());
    runtime = detected.runtime;
    apiSocket = (await runtime.describe()).endpoint;
  } else {
    runtime = (await detectRuntime({ preference: 'podman', socketPath: apiSocket }, systemDetectionContext(tmpdir()))).runtime;
  }
  run.add('runtime connection', () => runtime[Symbol.asyncDispose]());
  const machine = describeMachine(await runtime.describe());

  // The same text for every path: (c) sends it as echo.echo's argument, (a) and (b) send a frame as
  // long as (c)'s request, so each path moves the same bytes.
  const payloadText = 'x'.repeat(options.payloadChars);
  const request = JSON.stringify({ topic: 'echo.echo', correlation: 'c1a2b3c4d5e6f-12345', arguments: { text: payloadText } });
  let profileDir;
  if (values.profile !== undefined) {
    profileDir = resolve(values.profile);
    await mkdir(profileDir, { recursive: true });
  }
  const ctx = {
    runtime,
    apiSocket,
    imageId: await ensureEchoImage(runtime),
    labels: { 'io.carapace.bench': String(process.pid) },
    containerLimits: options.pluginCpus === undefined ? {} : { nanoCpus: Math.round(options.pluginCpus * 1e9) },
    payload: Buffer.from(request),
    payloadText,
    options,
    profileDir,
  };

  const results = {};
  if (values.only.includes('a')) results.a = await rawEcho(ctx);
  if (values.only.includes('b')) results.b = await rawRelay(ctx);
  if (values.only.includes('c')) {
    results.c = await fullPath(ctx);
    results.c.audit.expectedCalls = options.warmup + options.calls + options.callers * (options.callerWarmup + options.perCaller);
  }
  const auditCommits = await measureAuditCommits({ runs: 500, batch: options.callers, text: payloadText });
  printReport({ machine, options, results, auditCommits });
} finally {
  await run.run();
}
