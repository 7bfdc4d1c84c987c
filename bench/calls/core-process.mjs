// (c) The real core: the built CLI's `carapace start`, in its own process and its own home, the way
// a user runs it. The bench's callers reach it only through its caller socket.
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { homeLayout } from '../../dist/config/carapace-home.js';
import { openAuditReader } from '../../dist/store/audit-reader.js';
import { connectCallerClient } from '../../dist/transport/caller-client.js';
import { DEFAULT_WIRE_LIMITS } from '../../dist/wire/message.js';
import { startMeasuredProcess } from './measured-process.mjs';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const PROBE = pathToFileURL(fileURLToPath(new URL('process-probe.mjs', import.meta.url))).href;
// The limiter is a real stage and still runs on every call; these rates only keep it from
// refusing the bench's deliberate flood (the defaults allow 200 calls/s per caller).
const UNTHROTTLED = 1_000_000;

/**
 * A fresh owner-only home whose config points at `podmanSocket` and lifts the rate limits; with
 * `pluginCpus`, plugin containers get that CPU quota instead of the default; with `auditSync`, the
 * audit log's `audit.sync` instead of the default.
 */
export async function makeBenchHome(podmanSocket, pluginCpus, auditSync) {
  const home = await mkdtemp(join(tmpdir(), 'carapace-bench-home-'));
  await chmod(home, 0o700);
  const config = [
    '[runtime]',
    `socket = ${JSON.stringify(podmanSocket)}`,
    '[calls]',
    `caller_rate = ${UNTHROTTLED}`,
    `caller_burst = ${UNTHROTTLED}`,
    `tool_rate = ${UNTHROTTLED}`,
    `tool_burst = ${UNTHROTTLED}`,
    ...(pluginCpus === undefined ? [] : ['[container]', `cpus = ${pluginCpus}`]),
    ...(auditSync === undefined ? [] : ['[audit]', `sync = ${JSON.stringify(auditSync)}`]),
    '',
  ].join('\n');
  await writeFile(join(home, 'config.toml'), config, { mode: 0o600 });
  return { home, layout: homeLayout(home) };
}

/** Starts `carapace start` for `home`; resolves once it serves (its "core started" line). */
export function startCoreProcess(home) {
  return startMeasuredProcess(['--expose-gc', '--import', PROBE, CLI, '--json', '--home', home, 'start'], {
    ready: /core started/,
    timeoutMs: 300_000,
    label: 'carapace start',
  });
}

/** The core's own call counters, from the JSON `carapace start --json` prints when it stops. */
export function coreCallStats(stdout) {
  try {
    return JSON.parse(stdout).calls;
  } catch {
    return undefined;
  }
}

/** Records in the audit log so far (its head seq), read through a read-only reader as `carapace audit` does. */
export function auditHead(layout) {
  const reader = openAuditReader(layout.auditFile);
  try {
    return reader.head()?.seq ?? 0;
  } finally {
    reader.close();
  }
}

/** Verifies the whole hash chain; returns the verdict. */
export function verifyAudit(layout) {
  const reader = openAuditReader(layout.auditFile);
  try {
    return reader.verify();
  } finally {
    reader.close();
  }
}

/** A caller through Carapace's own client (`connectCallerClient`), as the CLI makes calls. */
export function connectCoreCaller(layout, text, onReply) {
  const client = connectCallerClient({ socketPath: layout.callerSocket, limits: DEFAULT_WIRE_LIMITS });
  return {
    async call(timeoutMs) {
      const reply = await client.call({ topic: 'echo.echo', arguments: { text } }, timeoutMs);
      onReply(reply);
      return reply.ok && reply.result?.text === text;
    },
    close: () => client.close(),
  };
}
