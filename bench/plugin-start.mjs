// Cold plugin start through Carapace's start gate against a raw `podman run` of the same image.
// Run after `pnpm build`, with a Podman API socket:   node bench/plugin-start.mjs SOCKET [runs] [--raw-unlimited]
//
// Both sides run the built-in echo plugin's image until the plugin says `ready` on its socket
// (credentials over stdin, the socket directory mounted read-only, the container user), then stop it.
//   carapace, first   - in a fresh Node process (a core that just started, modules imported):
//                       the start gate for a pinned plugin (lock, the runtime's digest, an
//                       UNCACHED signature verification: the cache file is deleted first, so the
//                       verifier is imported and run) + the hardened container start through the
//                       API until ready: a plugin's first start with a new bundle or policy
//   carapace, first, warmed - the same, with the verifier warmed up as `carapace start` does it
//                       (warmSignatureVerifier, called before the runtime is found and the manifest read)
//   carapace, pinned  - the same with the verification cache an earlier start wrote: every later start
//   carapace, built-in - the same plus what a built-in pays: rebuilding its image from the
//                       package to check the digest still matches the pin
//   raw podman run     - `podman run -i --rm` with the hardened flags and the same limits (CPU quota
//                       included; --raw-unlimited leaves the quota out), from spawn until ready
// Prints each run and the medians; target (docs/benchmarks.md): cold start <= 1.25x raw.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dist = (path) => new URL(`../dist/${path}`, import.meta.url).href;

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4], process.argv[5]);
else await main();

async function main() {
  const [socketPath, runsArg] = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
  if (!socketPath) throw new Error('usage: node bench/plugin-start.mjs SOCKET [runs] [--raw-unlimited]');
  const runs = Number(runsArg ?? 5);
  const { ensureCarapaceHome } = await import(dist('config/carapace-home.js'));
  const { prepareBuiltinImage } = await import(dist('daemon/plugin-images.js'));
  const { DockerApiRuntime } = await import(dist('runtime/docker-api/docker-api-runtime.js'));
  const home = await mkdtemp(join(tmpdir(), 'carapace-bench-start-'));
  const layout = await ensureCarapaceHome(join(home, 'home'));
  const runtime = await DockerApiRuntime.connect(socketPath);
  try {
    // Pins and signs echo with the home's local key, as the first start of a home does.
    const { pin, image } = await prepareBuiltinImage(runtime, 'echo', { layout });
    console.log(`image: ${pin.image}@${pin.digest} (id ${image.imageId.slice(0, 19)})`);
    const results = { first: [], warmed: [], pinned: [], builtin: [], raw: [] };
    for (let run = 0; run < runs; run += 1) {
      for (const mode of ['first', 'warmed', 'pinned', 'builtin']) {
        if (mode === 'first' || mode === 'warmed') await rm(layout.verificationCacheFile, { force: true });
        results[mode].push(JSON.parse(childRun(socketPath, layout.home, mode)));
      }
      results.raw.push(await rawPodman(layout, image.imageId));
      const last = (mode) => results[mode].at(-1);
      console.log(
        `run ${run + 1}: first ${ms(last('first').total)} (gate ${ms(last('first').gate)}), warmed ${ms(last('warmed').total)} (gate ${ms(last('warmed').gate)}), pinned ${ms(last('pinned').total)} (gate ${ms(last('pinned').gate)}), ` +
          `built-in ${ms(last('builtin').total)} (gate ${ms(last('builtin').gate)}), raw ${ms(last('raw').total)}`,
      );
    }
    const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const first = median(results.first.map((r) => r.total));
    const warmed = median(results.warmed.map((r) => r.total));
    const pinned = median(results.pinned.map((r) => r.total));
    const builtin = median(results.builtin.map((r) => r.total));
    const raw = median(results.raw.map((r) => r.total));
    console.log(`medians over ${runs} runs:`);
    console.log(`  carapace, first start:     ${ms(first)} (gate incl. uncached verification ${ms(median(results.first.map((r) => r.gate)))})`);
    console.log(`  carapace, first, warmed:   ${ms(warmed)} (gate ${ms(median(results.warmed.map((r) => r.gate)))})`);
    console.log(`  carapace, pinned plugin:   ${ms(pinned)} (gate ${ms(median(results.pinned.map((r) => r.gate)))}, start to ready ${ms(median(results.pinned.map((r) => r.start)))})`);
    console.log(`  carapace, built-in plugin: ${ms(builtin)} (gate incl. rebuild check ${ms(median(results.builtin.map((r) => r.gate)))})`);
    console.log(`  raw podman run to ready:   ${ms(raw)}`);
    console.log(`  ratio first/raw ${(first / raw).toFixed(2)}, warmed/raw ${(warmed / raw).toFixed(2)}, pinned/raw ${(pinned / raw).toFixed(2)}, built-in/raw ${(builtin / raw).toFixed(2)}`);
  } finally {
    await runtime[Symbol.asyncDispose]();
    await rm(home, { recursive: true, force: true });
  }
}

function childRun(socketPath, home, mode) {
  return execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--child', socketPath, home, mode], { encoding: 'utf8' });
}

/** One cold start in this fresh process: the gate, then the plugin's container until ready. */
async function child(socketPath, home, mode) {
  const { homeLayout } = await import(dist('config/carapace-home.js'));
  const { resolvePluginImage } = await import(dist('daemon/plugin-images.js'));
  const { warmSignatureVerifier } = await import(dist('daemon/image-signature.js'));
  const { startPluginContainer } = await import(dist('daemon/plugin-container.js'));
  const { preparePluginDirectories } = await import(dist('daemon/plugin-directories.js'));
  const { DockerApiRuntime } = await import(dist('runtime/docker-api/docker-api-runtime.js'));
  const { DEFAULT_LIMITS } = await import(dist('core/container-spec.js'));
  const { DEFAULT_WIRE_LIMITS } = await import(dist('wire/message.js'));
  const { parseManifest } = await import(dist('wire/manifest.js'));
  const { builtinPluginsDir } = await import(dist('images/builtin-plugins.js'));
  const layout = homeLayout(home);
  // As `carapace start`: the warm-up runs while the runtime is found and the manifest read.
  if (mode === 'warmed') warmSignatureVerifier(layout);
  const dir = join(builtinPluginsDir(), 'echo');
  const manifest = parseManifest(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')), dir);
  const runtime = await DockerApiRuntime.connect(socketPath);
  const started = performance.now();
  const image = await resolvePluginImage(runtime, { manifest, dir, builtin: mode === 'builtin' }, { layout });
  const gated = performance.now();
  const directories = await preparePluginDirectories(layout, 'echo', false);
  const plugin = await startPluginContainer(runtime, {
    manifest, image, credentials: {}, directories, home, limits: DEFAULT_LIMITS, wireLimits: DEFAULT_WIRE_LIMITS, readyTimeoutMs: 30_000,
    onCall: () => undefined, onRefusedFrame: () => undefined, onStopped: () => undefined, onError: () => undefined,
  });
  const ready = performance.now();
  await plugin.stop();
  await runtime[Symbol.asyncDispose]();
  process.stdout.write(JSON.stringify({ gate: gated - started, start: ready - gated, total: ready - started }));
}

/** `podman run` of the same image with the hardened flags, from spawn until the plugin's ready frame. */
async function rawPodman(layout, imageId) {
  const { preparePluginDirectories } = await import(dist('daemon/plugin-directories.js'));
  const { openPluginChannel } = await import(dist('transport/plugin-channel.js'));
  const { encodeCredentialMessage } = await import(dist('credentials/stdin-delivery.js'));
  const { isReadyFrame, SHUTDOWN_FRAME } = await import(dist('daemon/plugin-frames.js'));
  const directories = await preparePluginDirectories(layout, 'echo-raw', false);
  let onReady;
  const ready = new Promise((resolve) => (onReady = resolve));
  const channel = await openPluginChannel({
    plugin: 'echo-raw', socketDir: directories.socketDir, maxFrameBytes: 1024 * 1024, socketOwnerUid: 10001,
    onFrame: (frame, reply) => { if (isReadyFrame(frame)) onReady(reply); },
    onRefusedFrame: () => undefined, onError: () => undefined,
  });
  // The flags toDockerCreateOptions gives a plugin, including its CPU quota (the default 0.5 CPU): the
  // plugin's node boots inside that quota on both sides. `--raw-unlimited` leaves the quota out.
  const { DEFAULT_LIMITS, NOFILE_LIMIT } = await import(dist('core/container-spec.js'));
  const quota = process.argv.includes('--raw-unlimited') ? [] : ['--cpus', String(DEFAULT_LIMITS.nanoCpus / 1e9)];
  const started = performance.now();
  const child = spawn('podman', ['run', '-i', '--rm', '--pull=never', '--read-only', '--network', 'none', '--cap-drop', 'ALL',
    '--security-opt', 'no-new-privileges', '--user', '10001:10001', '--pids-limit', String(DEFAULT_LIMITS.pids),
    '--memory', String(DEFAULT_LIMITS.memoryBytes), '--memory-swap', String(DEFAULT_LIMITS.memoryBytes), ...quota,
    '--ulimit', `nofile=${NOFILE_LIMIT}:${NOFILE_LIMIT}`, '--ulimit', 'nproc=4096:4096',
    '--tmpfs', '/tmp:rw,noexec,nosuid,nodev,size=16m', '--tmpfs', '/run:ro,noexec,nosuid,nodev,size=1m', '--tmpfs', '/var/tmp:ro,noexec,nosuid,nodev,size=1m',
    '-v', `${directories.socketDir}:/run/carapace:ro`, imageId], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin.end(encodeCredentialMessage({}));
  const reply = await ready;
  const total = performance.now() - started;
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await reply(SHUTDOWN_FRAME);
  await exited;
  await channel.close();
  await rm(directories.socketDir, { recursive: true, force: true });
  return { total };
}

function ms(value) {
  return `${value.toFixed(0)} ms`;
}

