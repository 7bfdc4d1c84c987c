// Hardened container start-to-exit through Carapace's runtime adapter, against a raw `podman run`
// of the same image with the same flags. Run after `pnpm build`, with a Podman API socket:
//   node bench/container-start.mjs SOCKET [runs]
// Prints the median and min of each and their ratio.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHardenedSpec } from '../dist/core/container-spec.js';
import { canaryImageDefinition } from '../dist/images/canary-image.js';
import { ensureImage } from '../dist/images/ensure-image.js';
import { DockerApiRuntime } from '../dist/runtime/docker-api/docker-api-runtime.js';

const [socketPath, runsArg] = process.argv.slice(2);
if (!socketPath) throw new Error('usage: node bench/container-start.mjs SOCKET [runs]');
const runs = Number(runsArg ?? 15);

const runtime = await DockerApiRuntime.connect(socketPath);
const { imageId } = await ensureImage(runtime, canaryImageDefinition());
const socketDir = await mkdtemp(join(tmpdir(), 'carapace-bench-sock-'));
const command = ['/bin/busybox', 'true'];

const stats = (times) => {
  const sorted = [...times].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0] };
};

async function viaCarapace() {
  const started = performance.now();
  const spec = toHardenedSpec({ name: `carapace-bench-${process.pid}-${Math.random().toString(16).slice(2, 8)}`, image: imageId, command, socketDir, labels: { 'io.carapace.role': 'bench' } });
  const container = await runtime.start(spec);
  await container.wait({ timeoutMs: 30_000 });
  await container.remove();
  return performance.now() - started;
}

function rawPodman() {
  const started = performance.now();
  execFileSync('podman', ['run', '--rm', '--pull=never', '--read-only', '--network', 'none', '--cap-drop', 'ALL',
    '--security-opt', 'no-new-privileges', '--user', '10001:10001', '--pids-limit', '64', '--memory', '256m',
    '-v', `${socketDir}:/run/carapace`, imageId, ...command], { stdio: 'ignore' });
  return performance.now() - started;
}

const carapace = [];
const raw = [];
for (let run = 0; run < runs; run += 1) {
  carapace.push(await viaCarapace());
  raw.push(rawPodman());
}
const a = stats(carapace);
const b = stats(raw);
console.log(`runs: ${runs}`);
console.log(`carapace adapter start-to-exit: median ${a.median.toFixed(0)} ms, min ${a.min.toFixed(0)} ms (create, start, wait, remove)`);
console.log(`raw podman run --rm:            median ${b.median.toFixed(0)} ms, min ${b.min.toFixed(0)} ms (the same, one CLI call)`);
console.log(`ratio (median): ${(a.median / b.median).toFixed(2)}`);
await rm(socketDir, { recursive: true, force: true });
await runtime[Symbol.asyncDispose]();
