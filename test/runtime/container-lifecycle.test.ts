import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnsuredImage } from '../../src/images/ensure-image.js';
import type { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { homeLabels } from '../../src/core/container-labels.js';
import { podman } from '../images/podman-cli.js';
import { connectTestPodman, loadCanary, makeSocketDir, rawInspectText, sh, testHome, testSpec } from '../support/podman-test-runtime.js';

/** Stdin delivery, exit, output, timeouts and failed starts, on real Podman. */

let runtime: DockerApiRuntime;
let canary: EnsuredImage;
const home = testHome();

beforeAll(async () => {
  runtime = await connectTestPodman();
  canary = await loadCanary(runtime);
});

afterAll(async () => {
  await runtime?.[Symbol.asyncDispose]();
});

describe('stdin delivery', () => {
  it('hands the start bytes to the container, then EOF, and keeps them out of inspect', async () => {
    await using socketDir = await makeSocketDir();
    const secret = `cred-${randomBytes(12).toString('hex')}`;
    const spec = testSpec(canary.imageId, socketDir.path, home, { command: sh('cat; echo; echo eof-reached >&2') });
    await using container = await runtime.start(spec, { stdin: new TextEncoder().encode(secret) });
    const inspectText = await rawInspectText(runtime.socketPath, container.id);
    const exit = await container.wait({ timeoutMs: 20_000 });
    expect(exit).toEqual({ exitCode: 0, stdout: `${secret}\n`, stderr: 'eof-reached\n' });
    expect(inspectText).toContain(container.id);
    expect(inspectText).not.toContain(secret);
  });

  it('delivers a large payload intact (no bytes ahead of ours, none lost)', async () => {
    await using socketDir = await makeSocketDir();
    const payload = randomBytes(300 * 1024);
    const spec = testSpec(canary.imageId, socketDir.path, home, { command: sh('sha256sum | cut -d" " -f1') });
    await using container = await runtime.start(spec, { stdin: payload });
    const exit = await container.wait({ timeoutMs: 20_000 });
    expect(exit.stdout.trim()).toBe(createHash('sha256').update(payload).digest('hex'));
  });

  it('closes stdin at once when there is nothing to send', async () => {
    await using socketDir = await makeSocketDir();
    const spec = testSpec(canary.imageId, socketDir.path, home, { command: sh('cat; echo done') });
    await using container = await runtime.start(spec);
    await expect(container.wait({ timeoutMs: 20_000 })).resolves.toEqual({ exitCode: 0, stdout: 'done\n', stderr: '' });
  });

  it('caps captured output at 1 MiB per stream', async () => {
    await using socketDir = await makeSocketDir();
    const spec = testSpec(canary.imageId, socketDir.path, home, { command: sh('head -c 3000000 /dev/zero | tr "\\0" x') });
    await using container = await runtime.start(spec);
    const exit = await container.wait({ timeoutMs: 20_000 });
    expect(exit.exitCode).toBe(0);
    expect(exit.stdout.length).toBe(1024 * 1024);
  });
});

describe('wait', () => {
  it('reports the exit code', async () => {
    await using socketDir = await makeSocketDir();
    await using container = await runtime.start(testSpec(canary.imageId, socketDir.path, home, { command: sh('exit 7') }));
    expect((await container.wait({ timeoutMs: 20_000 })).exitCode).toBe(7);
  });

  it('kills a container that outlives its timeout', async () => {
    await using socketDir = await makeSocketDir();
    await using container = await runtime.start(testSpec(canary.imageId, socketDir.path, home, { command: sh('sleep 60') }));
    const started = performance.now();
    await expect(container.wait({ timeoutMs: 300 })).rejects.toMatchObject({ code: 'CONTAINER_TIMEOUT', details: { killed: true } });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect((await runtime.inspect(container.id)).running).toBe(false);
  });
});

describe('a start that fails leaves nothing behind', () => {
  it('refuses an image that is not loaded, without pulling', async () => {
    await using socketDir = await makeSocketDir();
    const missing = `localhost/carapace-test/absent@sha256:${'0'.repeat(64)}`;
    const started = performance.now();
    await expect(runtime.start(testSpec(missing, socketDir.path, home))).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
    // A pull attempt would take seconds to fail offline; a local miss is immediate.
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(await runtime.list(homeLabels(home))).toEqual([]);
  });

  it('refuses an image that declares a VOLUME (a writable, exec-allowed mount) before creating anything', async () => {
    await using socketDir = await makeSocketDir();
    const reference = 'localhost/carapace-test/declares-volume:1';
    const source = `carapace-test-volsrc-${String(process.pid)}`;
    expect((await podman(['create', '--name', source, canary.imageId])).exitCode).toBe(0);
    try {
      expect((await podman(['commit', '-q', '--change', 'VOLUME /data', source, reference])).exitCode).toBe(0);
      await expect(runtime.start(testSpec(reference, socketDir.path, home, { command: sh('true') }))).rejects.toMatchObject({
        code: 'SPEC_VIOLATION',
        details: { volumes: ['/data'] },
      });
      expect(await runtime.list(homeLabels(home))).toEqual([]);
    } finally {
      await podman(['rm', '-f', source]);
      await podman(['rmi', '-f', reference]);
    }
  });

  it("refuses a command that would put Podman in systemd mode, and removes what it created", async () => {
    await using socketDir = await makeSocketDir();
    const spec = testSpec(canary.imageId, socketDir.path, home, { command: ['/sbin/init'] });
    await expect(runtime.start(spec)).rejects.toMatchObject({ code: 'SPEC_VIOLATION' });
    expect((await runtime.list(homeLabels(home))).map((container) => container.name)).not.toContain(spec.name);
  });

  it('removes the container when its command cannot run', async () => {
    await using socketDir = await makeSocketDir();
    const spec = testSpec(canary.imageId, socketDir.path, home, { command: ['/nonexistent/binary'] });
    await expect(runtime.start(spec)).rejects.toMatchObject({ code: 'CONTAINER_START_FAILED' });
    expect((await runtime.list(homeLabels(home))).map((container) => container.name)).not.toContain(spec.name);
  });

  it('refuses a second container under a taken name, and leaves the first alone', async () => {
    await using socketDir = await makeSocketDir();
    const spec = testSpec(canary.imageId, socketDir.path, home, { command: sh('sleep 30') });
    await using first = await runtime.start(spec);
    await expect(runtime.start(spec)).rejects.toMatchObject({ code: 'CONTAINER_START_FAILED' });
    expect((await runtime.inspect(first.id)).running).toBe(true);
  });
});

describe('remove', () => {
  it('is idempotent and reports a removed container as not found', async () => {
    await using socketDir = await makeSocketDir();
    const container = await runtime.start(testSpec(canary.imageId, socketDir.path, home, { command: sh('sleep 30') }));
    await container.remove();
    await container.remove();
    await runtime.remove(container.id);
    await expect(runtime.inspect(container.id)).rejects.toMatchObject({ code: 'CONTAINER_NOT_FOUND' });
  });
});
