import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HomeLayout } from '../../src/config/carapace-home.js';
import { signLocally } from '../../src/daemon/local-pins.js';
import type { EnsuredImage } from '../../src/images/ensure-image.js';
import { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { loadLockFile, pinOf } from '../../src/trust/lock-file.js';
import { podman } from '../images/podman-cli.js';
import { podmanSocket } from '../support/podman.js';
import { runCarapace } from '../support/run-cli-in-process.js';
import { addUserPlugin, containersOf, gateHome, lifecycleRecords, pin, runnablePluginImage, startCoreIn } from './gate-support.js';

const REPOSITORY = 'localhost/carapace-test/swap-plugin';
const TAG = `${REPOSITORY}:current`;

/**
 * Same tag, other content: a plugin pinned to image A keeps running A while A is there, whatever
 * the tag says; once A is gone and B answers to the tag, the next start is refused naming both
 * digests, and no container is created.
 */
describe('an image swapped in the runtime after pinning', () => {
  let runtime: DockerApiRuntime;
  let layout: HomeLayout;
  let a: EnsuredImage;
  let b: EnsuredImage;

  beforeAll(async () => {
    runtime = await DockerApiRuntime.connect(podmanSocket());
    a = await runnablePluginImage(runtime, REPOSITORY, 'a');
    b = await runnablePluginImage(runtime, REPOSITORY, 'b');
    expect(b.manifestDigest).not.toBe(a.manifestDigest);
    await podmanOk(['tag', a.imageId, TAG]);
    layout = await gateHome();
    await addUserPlugin(layout, 'swap', TAG);
    await pin(layout, 'swap', a);
    await signLocally(layout, a.manifestDigest);
  }, 240_000);

  afterAll(async () => {
    for (const image of [a, b]) if (image !== undefined) await podman(['rmi', '--force', image.imageId]);
    await runtime?.[Symbol.asyncDispose]();
  }, 60_000);

  const startAndReport = async () => {
    const core = await startCoreIn(layout);
    try {
      const report = core.plugins().find((plugin) => plugin.name === 'swap');
      return { report, containers: await containersOf(runtime, layout, 'swap') };
    } finally {
      await core.stopAll();
    }
  };

  it('runs the pinned image A by its id', async () => {
    const { report, containers } = await startAndReport();
    expect(report).toMatchObject({ state: 'running', container: { image: a.imageId } });
    expect(containers).toHaveLength(1);
  });

  it('still runs A when the tag is moved to B: the tag is never what runs', async () => {
    await podmanOk(['tag', b.imageId, TAG]);
    expect((await runtime.findImage(TAG))?.id).toBe(b.imageId);
    const { report } = await startAndReport();
    expect(report).toMatchObject({ state: 'running', container: { image: a.imageId } });
  });

  it('refuses the next start once A is gone and B holds the tag: IMAGE_DIGEST_MISMATCH naming both, audited, no container', async () => {
    await podmanOk(['rmi', '--force', a.imageId]);
    const { report, containers } = await startAndReport();
    expect(report).toMatchObject({ state: 'failed', container: null, problem: { code: 'IMAGE_DIGEST_MISMATCH' } });
    expect(report?.problem?.message).toContain(a.manifestDigest);
    expect(report?.problem?.message).toContain(b.manifestDigest);
    expect(containers).toEqual([]);
    expect(lifecycleRecords(layout).filter((record) => record.topic === 'plugin.failed' && record.source === 'swap').map((record) => record.code)).toEqual(['IMAGE_DIGEST_MISMATCH']);
    expect(pinOf(await loadLockFile(layout.lockFile), 'swap')?.digest).toBe(a.manifestDigest);
  });

  it('rebuilds A from a clean state (removed from the runtime) to the identical digest, which the gate accepts again', async () => {
    expect(await runtime.findImage(`${REPOSITORY}@${a.manifestDigest}`)).toBeUndefined();
    const rebuilt = await runnablePluginImage(runtime, REPOSITORY, 'a');
    expect(rebuilt).toMatchObject({ loaded: true, manifestDigest: a.manifestDigest, imageId: a.imageId });
    const { report } = await startAndReport();
    expect(report).toMatchObject({ state: 'running', container: { image: a.imageId } });
  });

  it('carapace image sign swap --repin vouches for what the tag names now (B): signed, pinned, and the next start runs B', async () => {
    const signed = await runCarapace(['--json', '--home', layout.home, 'image', 'sign', 'swap', '--repin']);
    expect(signed.status).toBe(0);
    expect(JSON.parse(signed.stdout)).toMatchObject({ plugin: 'swap', digest: b.manifestDigest, pinned: true, trusted: true });
    expect(pinOf(await loadLockFile(layout.lockFile), 'swap')?.digest).toBe(b.manifestDigest);
    const { report } = await startAndReport();
    expect(report).toMatchObject({ state: 'running', container: { image: b.imageId } });
    expect((await runCarapace(['--json', '--home', layout.home, 'image', 'sign', 'echo', '--repin'])).status).toBe(2);
  });
});

async function podmanOk(args: string[]): Promise<void> {
  const result = await podman(args);
  if (result.exitCode !== 0) throw new Error(`podman ${args.join(' ')} failed: ${result.stderr}`);
}
