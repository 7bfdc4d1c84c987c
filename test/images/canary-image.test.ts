import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCanaryReport } from '../../src/core/canary-report.js';
import { CANARY_IMAGE, canaryImageDefinition, canaryProbeCommand, canarySleepCommand } from '../../src/images/canary-image.js';
import { ensureImage, type EnsuredImage } from '../../src/images/ensure-image.js';
import { buildImage } from '../../src/images/image-builder.js';
import { PODMAN_ULIMIT_ARGS, PodmanCliImages, podman } from './podman-cli.js';

/**
 * The canary against real Podman: it loads with its manifest digest intact, reports
 * refused/refused/clean under the hardened flags, and reports every weakness when the flags are
 * loosened, which is what makes its "refused" worth trusting.
 */

const HARDENED_ARGS = [
  '--read-only',
  '--network',
  'none',
  '--cap-drop',
  'ALL',
  '--security-opt',
  'no-new-privileges',
  '--user',
  '10001:10001',
];
const SENTINEL = 'CARAPACE_CANARY_SENTINEL';

let work: string;
let images: PodmanCliImages;
let canary: EnsuredImage;
let loadedByUs = false;
let listener: Server;
let listenAddress: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'carapace-canary-'));
  images = new PodmanCliImages();
  canary = await ensureImage(images, canaryImageDefinition(), { workDir: work });
  loadedByUs = canary.loaded;
  listener = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const address = listener.address();
  if (address === null || typeof address === 'string') throw new Error('listener has no TCP address');
  listenAddress = `127.0.0.1:${address.port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => (listener ? listener.close(() => resolve()) : resolve()));
  // Only remove the image if this run loaded it: another suite may have loaded the same content.
  if (loadedByUs) await podman(['rmi', canary.reference]);
  if (work) await rm(work, { recursive: true, force: true });
});

async function runCanary(runArgs: readonly string[], command: readonly string[]): Promise<string> {
  const result = await podman(['run', '--rm', '--pull=never', ...PODMAN_ULIMIT_ARGS, ...runArgs, canary.pinnedReference, ...command]);
  // Podman's own log lines (`WARN[0000] ...`, `time="..."`) are not the probe's; anything else is.
  const probeStderr = result.stderr.split('\n').filter((line) => line !== '' && !/^(WARN|ERRO|INFO)\[|^time=/.test(line));
  expect(probeStderr).toEqual([]);
  expect(result.exitCode).toBe(0);
  return result.stdout;
}

describe('canary image on Podman', () => {
  it('keeps its manifest digest and config id through podman load, and loads only once', async () => {
    const found = await images.findImage(canary.pinnedReference);
    expect(found?.id).toBe(canary.configDigest.slice('sha256:'.length));
    expect(found?.digests).toContain(canary.pinnedReference);
    expect(found?.tags).toContain(canary.reference);
    expect((await ensureImage(images, canaryImageDefinition(), { workDir: work })).loaded).toBe(false);
  });

  it('builds the same manifest digest again from the same inputs', async () => {
    const rebuilt = await buildImage(canaryImageDefinition(), { outputDir: join(work, 'rebuild') });
    expect(rebuilt.manifestDigest).toBe(canary.manifestDigest);
  });

  it('reports refused, refused, clean under the hardened flags', async () => {
    const stdout = await runCanary(HARDENED_ARGS, canaryProbeCommand({ connect: listenAddress, sentinel: SENTINEL }));
    expect(stdout).toBe('write refused\nnetwork refused\nenv clean\n');
    expect(parseCanaryReport(stdout)).toEqual({
      write: { refused: true, detail: 'refused' },
      network: { refused: true, detail: 'refused' },
      environment: { refused: true, detail: 'clean' },
    });
  });

  it('sees a writable root, the host network and a leaked variable when the flags are loosened', async () => {
    const loose = ['--network', 'host', '--user', '10001:10001', '--env', `${SENTINEL}=leaked-value`, '--env', 'OTHER_HOST_VAR=1'];
    const stdout = await runCanary(loose, canaryProbeCommand({ connect: listenAddress, sentinel: SENTINEL }));
    const report = parseCanaryReport(stdout);
    expect(report.write).toEqual({ refused: false, detail: `allowed ${CANARY_IMAGE.writableProbeDir}` });
    expect(report.network.refused).toBe(false);
    expect(report.network.detail).toMatch(/^allowed interface:/);
    expect(report.network.detail).toContain(`connect:${listenAddress}`);
    expect(report.environment).toEqual({ refused: false, detail: `leaked ${SENTINEL},OTHER_HOST_VAR sentinel=${SENTINEL}` });
  });

  it('sees the writable root directories when run as root without --read-only', async () => {
    const stdout = await runCanary(['--network', 'none', '--user', '0:0'], canaryProbeCommand());
    expect(parseCanaryReport(stdout).write).toEqual({ refused: false, detail: 'allowed /,/etc,/usr,/bin,/canary/writable' });
  });

  it('runs arbitrary probes through busybox sh as the unprivileged user', async () => {
    const stdout = await runCanary(HARDENED_ARGS, ['/bin/busybox', 'sh', '-c', 'id -u; id -g; echo "$PATH"']);
    expect(stdout).toBe('10001\n10001\n/bin\n');
  });

  it('stays up with the sleep command until removed', async () => {
    const name = `carapace-canary-sleep-${process.pid}`;
    const started = await podman(['run', '-d', '--name', name, '--pull=never', ...PODMAN_ULIMIT_ARGS, ...HARDENED_ARGS, canary.pinnedReference, ...canarySleepCommand(30)]);
    try {
      expect(started.exitCode).toBe(0);
      const state = await podman(['inspect', '--format', '{{.State.Running}}', name]);
      expect(state.stdout.trim()).toBe('true');
    } finally {
      await podman(['rm', '--force', '--time', '0', name]);
    }
  });
});
