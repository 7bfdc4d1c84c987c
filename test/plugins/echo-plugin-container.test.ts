import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { homeLabels } from '../../src/core/container-labels.js';
import { builtinPluginImage } from '../../src/images/builtin-plugins.js';
import { composeImage } from '../../src/images/image-builder.js';
import { ensureImage, type EnsuredImage } from '../../src/images/ensure-image.js';
import type { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { connectTestPodman, rawInspectText, testHome } from '../support/podman-test-runtime.js';
import { podmanSocket } from '../support/podman.js';
import { podman } from '../images/podman-cli.js';
import { startPlugin } from './plugin-container.js';

/**
 * The echo plugin's image under the hardened spec in real Podman, driven through the runtime
 * adapter and a real ipc socket, the way the core drives it. Needs `pnpm build`.
 */

const home = testHome();
let runtime: DockerApiRuntime;
let image: EnsuredImage;

beforeAll(async () => {
  runtime = await connectTestPodman();
  image = await ensureImage(runtime, await builtinPluginImage('echo'));
});

afterAll(async () => {
  for (const container of await runtime.list(homeLabels(home))) await runtime.remove(container.id);
  await runtime[Symbol.asyncDispose]();
  // Only an image this suite loaded: another suite may have loaded the same content first.
  if (image?.loaded) await podman(['rmi', image.reference]);
});

describe('echo plugin image', () => {
  it('starts, answers echo and proves the stdin credential arrived, without it showing anywhere', async () => {
    const token = `echo-token-${randomBytes(16).toString('hex')}`;
    await using plugin = await startPlugin(runtime, { plugin: 'echo', image: image.pinnedReference, home, credentials: { ECHO_TOKEN: token } });
    expect(await plugin.call('echo', { text: 'hello from the host' })).toEqual({ correlation: expect.any(String), ok: true, result: { text: 'hello from the host' } });
    const digest = await plugin.call('credential_digest', {});
    expect(digest).toMatchObject({ ok: true, result: { present: true, sha256: createHash('sha256').update(token).digest('hex') } });
    expect(JSON.stringify(digest)).not.toContain(token);
    expect(await rawInspectText(podmanSocket(), plugin.container.id)).not.toContain(token);
    const exit = await plugin.shutdown();
    expect(exit.exitCode).toBe(0);
    expect(exit.stdout + exit.stderr).not.toContain(token);
  });

  it('reports a missing credential as absent', async () => {
    await using plugin = await startPlugin(runtime, { plugin: 'echo', image: image.pinnedReference, home });
    expect(await plugin.call('credential_digest', {})).toMatchObject({ ok: true, result: { present: false, sha256: null } });
  });

  it('returns a failing handler, an unknown tool and bad arguments as errors, and keeps serving', async () => {
    await using plugin = await startPlugin(runtime, { plugin: 'echo', image: image.pinnedReference, home });
    expect(await plugin.call('fail', {})).toMatchObject({ ok: false, error: { code: 'PLUGIN_ERROR', message: 'fail failed' } });
    expect(await plugin.call('nope', {})).toMatchObject({ ok: false, error: { code: 'TOPIC_UNKNOWN' } });
    expect(await plugin.call('echo', { text: 42 })).toMatchObject({ ok: false, error: { code: 'PLUGIN_ERROR' } });
    expect(await plugin.call('sleep', { ms: 50 })).toMatchObject({ ok: true, result: { slept: 50 } });
    expect(await plugin.call('echo', { text: 'still here' })).toMatchObject({ ok: true, result: { text: 'still here' } });
  });

  it('stops a sleeping handler when shut down, and exits cleanly', async () => {
    await using plugin = await startPlugin(runtime, { plugin: 'echo', image: image.pinnedReference, home });
    const sleeping = plugin.call('sleep', { ms: 60_000 }, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = performance.now();
    const exit = await plugin.shutdown();
    expect(exit.exitCode).toBe(0);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(await sleeping).toMatchObject({ ok: false, error: { code: 'PLUGIN_ERROR' } });
  });

  it('builds to the same digest twice, and ensureImage does not load it again', async () => {
    const [first, second] = [await composeImage(await builtinPluginImage('echo')), await composeImage(await builtinPluginImage('echo'))];
    expect(second.manifestDigest).toBe(first.manifestDigest);
    expect(first.archive.equals(second.archive)).toBe(true);
    expect(first.pinnedReference).toBe(image.pinnedReference);
    expect(await ensureImage(runtime, await builtinPluginImage('echo'))).toMatchObject({ loaded: false, pinnedReference: image.pinnedReference });
  });
});
