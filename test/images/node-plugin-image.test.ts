import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTAINER_UID } from '../../src/core/container-spec.js';
import { homeLabels } from '../../src/core/container-labels.js';
import { ensureImage, type EnsuredImage } from '../../src/images/ensure-image.js';
import { nodePluginImageDefinition } from '../../src/images/node-plugin-image.js';
import type { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { openPluginChannel } from '../../src/transport/plugin-channel.js';
import { makeContainerUserDir } from '../plugins/plugin-container.js';
import { connectTestPodman, testHome, testSpec } from '../support/podman-test-runtime.js';
import { podman } from './podman-cli.js';

/**
 * A plugin given as one .mjs file, the way hostile-plugin tests supply theirs: the generic Node
 * image runs it under the hardened spec, it reaches the host over the mounted ipc socket with the
 * image's own zeromq, and it reports what it finds inside the image.
 */

const PROBE = `
import { Dealer } from 'zeromq';
import { existsSync, writeFileSync } from 'node:fs';
const canWrite = (path) => { try { writeFileSync(path, 'x'); return true; } catch { return false; } };
const facts = {
  uid: process.getuid(),
  node: process.execPath,
  cwd: process.cwd(),
  env: Object.keys(process.env).sort(),
  tools: ['/bin/sh', '/bin/bash', '/usr/bin/env', '/bin/busybox', '/usr/bin/npm', '/usr/local/bin/npm'].filter((path) => existsSync(path)),
  writable: ['/app/x', '/usr/local/bin/x', '/data/x', '/x'].filter(canWrite),
  tmp: canWrite('/tmp/x'),
};
const socket = new Dealer({ linger: 2000 });
socket.connect('ipc:///run/carapace/plugin.sock');
await socket.send(JSON.stringify(facts));
socket.close();
`;

const home = testHome();
let work: string;
let runtime: DockerApiRuntime;
let image: EnsuredImage;

beforeAll(async () => {
  work = await makeContainerUserDir('carapace-node-image-');
  await writeFile(join(work, 'probe.mjs'), PROBE);
  runtime = await connectTestPodman();
  const definition = await nodePluginImageDefinition({
    name: 'localhost/carapace/test-node-probe',
    files: [{ hostPath: join(work, 'probe.mjs'), imagePath: 'probe.mjs' }],
    packages: ['zeromq'],
    entry: 'probe.mjs',
  });
  image = await ensureImage(runtime, definition);
});

afterAll(async () => {
  for (const container of await runtime.list(homeLabels(home))) await runtime.remove(container.id);
  await runtime[Symbol.asyncDispose]();
  if (image?.loaded) await podman(['rmi', image.reference]);
  await rm(work, { recursive: true, force: true });
});

describe('a Node plugin image built from one .mjs file', () => {
  it('runs it hardened as the container user, with zeromq working and no shell or package manager', async () => {
    const socketDir = await makeContainerUserDir('carapace-node-sock-');
    const frames: Buffer[] = [];
    const channel = await openPluginChannel({
      plugin: 'probe',
      socketDir,
      maxFrameBytes: 64 * 1024,
      socketOwnerUid: CONTAINER_UID,
      onFrame: (frame) => void frames.push(Buffer.from(frame)),
      onRefusedFrame: () => undefined,
      onError: () => undefined,
    });
    try {
      await using container = await runtime.start(testSpec(image.pinnedReference, socketDir, home));
      const exit = await container.wait({ timeoutMs: 20_000 });
      expect(exit).toMatchObject({ exitCode: 0, stderr: '' });
      // The probe's linger flushed its message before it exited; delivery to onFrame may lag a tick.
      await Promise.race([channel.ready, new Promise((resolve) => setTimeout(resolve, 2000))]);
      expect(frames).toHaveLength(1);
      const facts = JSON.parse(frames[0]?.toString('utf8') ?? '{}') as { env: string[] };
      // The image sets PATH only; the others are the runtime's own (HOSTNAME, HOME, TERM, container).
      expect(facts.env).toContain('PATH');
      expect(facts.env.filter((name) => !['PATH', 'HOME', 'HOSTNAME', 'TERM', 'container'].includes(name))).toEqual([]);
      expect(facts).toEqual({
        uid: CONTAINER_UID,
        node: '/usr/local/bin/node',
        cwd: '/app',
        env: facts.env,
        tools: [],
        writable: [],
        tmp: true,
      });
    } finally {
      await channel.close();
      await rm(socketDir, { recursive: true, force: true });
    }
  });
});
