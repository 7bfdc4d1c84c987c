import { chmod, chown, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkContainerAgainstSpec } from '../../src/core/container-observation.js';
import { CONTAINER_GID, CONTAINER_UID } from '../../src/core/container-spec.js';
import { ensureImage, type EnsuredImage } from '../../src/images/ensure-image.js';
import type { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { openPluginChannel } from '../../src/transport/plugin-channel.js';
import { connectTestPodman, loadCanary, sh, testHome, testSpec } from '../support/podman-test-runtime.js';
import { NODE_PROBE, nodeProbeImageDefinition } from './node-probe-image.js';

/**
 * The two host directories a container gets, on real Podman: the socket directory read-only at
 * /run/carapace, and the storage directory read-write but noexec,nosuid,nodev at /data. Both are
 * given to uid 10001 as the core gives them, so a refused write proves the mount, not permissions.
 */

let runtime: DockerApiRuntime;
let canary: EnsuredImage;
let nodeProbe: EnsuredImage;
const home = testHome();

beforeAll(async () => {
  runtime = await connectTestPodman();
  canary = await loadCanary(runtime);
  nodeProbe = await ensureImage(runtime, await nodeProbeImageDefinition());
});

afterAll(async () => {
  await runtime?.[Symbol.asyncDispose]();
});

/** A 0700 host directory owned by the container user when we are root, like the core's. */
async function containerDir(prefix: string): Promise<{ readonly path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  await chmod(path, 0o700);
  if (process.getuid?.() === 0) await chown(path, CONTAINER_UID, CONTAINER_GID);
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/** `key=value` lines, one per probe. */
function probeResults(stdout: string): Record<string, string> {
  return Object.fromEntries(stdout.trim().split('\n').map((line) => /^(\w+)=(.*)$/.exec(line)?.slice(1) ?? [line, '']));
}

const PROBES = [
  'echo ids=$(id -u):$(id -g)',
  'echo kept > /data/note && echo datawrite=ok || echo datawrite=refused',
  // The copy keeps busybox's name, so an allowed run exits 0; the shell's 126 is exec refused.
  'cp /bin/busybox /data/busybox; /data/busybox true 2>/dev/null; echo dataexec=$?',
  'echo dataoptions=$(grep " /data " /proc/mounts | cut -d" " -f4)',
  'echo socketoptions=$(grep " /run/carapace " /proc/mounts | cut -d" " -f4)',
  'echo socketwrite=$(touch /run/carapace/planted 2>&1 && echo written)',
  'echo rootwrite=$(touch /planted 2>&1 && echo written)',
];

describe('socket and storage mounts on Podman', () => {
  it('lets uid 10001 write /data but not run what it wrote, and refuses writes to /run/carapace and /', async () => {
    await using socketDir = await containerDir('carapace-sock-');
    await using storageDir = await containerDir('carapace-data-');
    const spec = testSpec(canary.imageId, socketDir.path, home, { storageDir: storageDir.path, command: sh(PROBES.join('; ')) });
    await using container = await runtime.start(spec);

    expect(checkContainerAgainstSpec(spec, await runtime.inspect(container.id)).filter((check) => !check.ok)).toEqual([]);

    const exit = await container.wait({ timeoutMs: 20_000 });
    expect(exit.stderr).toBe('');
    const seen = probeResults(exit.stdout);
    expect(seen).toEqual({
      ids: '10001:10001',
      datawrite: 'ok',
      dataexec: '126',
      dataoptions: expect.stringMatching(/^rw,/),
      socketoptions: expect.stringMatching(/^ro,/),
      socketwrite: 'touch: /run/carapace/planted: Read-only file system',
      rootwrite: 'touch: /planted: Read-only file system',
    });
    expect(seen['dataoptions']?.split(',')).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec']));
    expect(exit.exitCode).toBe(0);

    // On the host: the note is there, owned by the container user; the socket directory is untouched.
    expect(await readFile(join(storageDir.path, 'note'), 'utf8')).toBe('kept\n');
    if (process.getuid?.() === 0) expect((await stat(join(storageDir.path, 'note'))).uid).toBe(CONTAINER_UID);
    expect(await readdir(socketDir.path)).toEqual([]);
  });

  it('keeps /data across containers: a new container reads what the last one wrote', async () => {
    await using socketDir = await containerDir('carapace-sock-');
    await using storageDir = await containerDir('carapace-data-');
    const run = async (script: string): Promise<string> => {
      const spec = testSpec(canary.imageId, socketDir.path, home, { storageDir: storageDir.path, command: sh(script) });
      await using container = await runtime.start(spec);
      const exit = await container.wait({ timeoutMs: 20_000 });
      expect(exit.exitCode).toBe(0);
      return exit.stdout;
    };
    await run('echo first-run > /data/state');
    expect(await run('cat /data/state')).toBe('first-run\n');
  });

  it('lets uid 10001 connect to the host ZeroMQ ROUTER through the read-only socket mount', async () => {
    await using socketDir = await containerDir('carapace-sock-');
    await using storageDir = await containerDir('carapace-data-');
    const frames: string[] = [];
    const failures: unknown[] = [];
    await using channel = await openPluginChannel({
      plugin: 'mounts-probe',
      socketDir: socketDir.path,
      maxFrameBytes: 1024,
      socketOwnerUid: CONTAINER_UID,
      onFrame: (frame, reply) => {
        frames.push(Buffer.from(frame).toString('utf8'));
        return reply(Buffer.from('hello back'));
      },
      onRefusedFrame: (refusal) => failures.push(refusal.error),
      onError: (error) => failures.push(error),
    });
    const spec = testSpec(nodeProbe.imageId, socketDir.path, home, {
      storageDir: storageDir.path,
      command: [NODE_PROBE.node, NODE_PROBE.zmtpDealer, '/run/carapace/plugin.sock', 'hello from inside'],
    });
    await using container = await runtime.start(spec);
    const exit = await container.wait({ timeoutMs: 30_000 });

    expect(exit.stderr).toBe('');
    expect(probeResults(exit.stdout)).toEqual({ uid: String(CONTAINER_UID), planted: 'EROFS', connect: 'ok', reply: 'hello back' });
    expect(exit.exitCode).toBe(0);
    expect(frames).toEqual(['hello from inside']);
    expect(failures).toEqual([]);
    // The socket is the only entry in its directory, and only its owner (the container user) may connect.
    expect(await readdir(socketDir.path)).toEqual(['plugin.sock']);
    const socket = await stat(channel.socketPath);
    expect(socket.mode & 0o777).toBe(0o600);
    if (process.getuid?.() === 0) expect(socket.uid).toBe(CONTAINER_UID);
  });
});
