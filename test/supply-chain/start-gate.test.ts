import { copyFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HomeLayout } from '../../src/config/carapace-home.js';
import type { RunningCore } from '../../src/daemon/core.js';
import type { EnsuredImage } from '../../src/images/ensure-image.js';
import { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { bundleFileOf } from '../../src/trust/bundle-file.js';
import { addRevocation, EMPTY_REVOCATION_LIST, saveRevocationList } from '../../src/trust/revocation-list.js';
import { generateSigningKey } from '../../src/trust/signing-key.js';
import { podman } from '../images/podman-cli.js';
import { ensureHostilePluginImage } from '../support/hostile-plugin.js';
import { podmanSocket } from '../support/podman.js';
import { addUserPlugin, containersOf, gateHome, lifecycleRecords, pin, signWith, startCoreIn, tinyImage, trustKey } from './gate-support.js';

/**
 * The start gate with the real core and real Podman: one home holds a plugin that passes and one
 * plugin per refusal. Each refused plugin fails with its code and a `plugin.failed` audit record,
 * and Podman holds no container for it, while the others serve.
 */
describe('the start gate refuses what is not pinned, not held or not signed, and creates no container for it', () => {
  let runtime: DockerApiRuntime;
  let layout: HomeLayout;
  let core: RunningCore & { stopAll(): Promise<void> };
  let hostile: EnsuredImage;
  let tiny: EnsuredImage[] = [];

  const expected = {
    unpinned: 'IMAGE_NOT_PINNED',
    nobundle: 'SIGNATURE_MISSING',
    otherkey: 'SIGNATURE_UNTRUSTED',
    badsig: 'SIGNATURE_INVALID',
    revokedkey: 'TRUST_REVOKED',
    revokeddigest: 'TRUST_REVOKED',
    swapped: 'IMAGE_DIGEST_MISMATCH',
    absent: 'IMAGE_NOT_FOUND',
  } as const;

  beforeAll(async () => {
    runtime = await DockerApiRuntime.connect(podmanSocket());
    hostile = await ensureHostilePluginImage(runtime);
    tiny = await Promise.all(['nobundle', 'otherkey', 'badsig', 'revokedkey', 'revokeddigest', 'swapped-held', 'unpinned', 'signed-elsewhere'].map((content) => tinyImage(runtime, `gate ${content}`)));
    const [nobundle, otherkey, badsig, revokedkey, revokeddigest, held, unpinned, elsewhere] = tiny as [EnsuredImage, EnsuredImage, EnsuredImage, EnsuredImage, EnsuredImage, EnsuredImage, EnsuredImage, EnsuredImage];
    const publisher = generateSigningKey();
    const retired = generateSigningKey();
    const stranger = generateSigningKey();

    layout = await gateHome();
    await trustKey(layout, 'publisher', publisher);
    await trustKey(layout, 'retired', retired);

    // The control: pinned, held, signed by a trusted key.
    await addUserPlugin(layout, 'good', hostile.reference);
    await pin(layout, 'good', hostile);
    await signWith(layout, hostile.manifestDigest, publisher);

    await addUserPlugin(layout, 'unpinned', unpinned.reference);
    await signWith(layout, unpinned.manifestDigest, publisher);

    await addUserPlugin(layout, 'nobundle', nobundle.reference);
    await pin(layout, 'nobundle', nobundle);

    await addUserPlugin(layout, 'otherkey', otherkey.reference);
    await pin(layout, 'otherkey', otherkey);
    await signWith(layout, otherkey.manifestDigest, stranger);

    // A genuine signature by a trusted key, but over another image: copied into this digest's place.
    await addUserPlugin(layout, 'badsig', badsig.reference);
    await pin(layout, 'badsig', badsig);
    await signWith(layout, elsewhere.manifestDigest, publisher);
    await copyFile(bundleFileOf(layout.home, elsewhere.manifestDigest), bundleFileOf(layout.home, badsig.manifestDigest));

    await addUserPlugin(layout, 'revokedkey', revokedkey.reference);
    await pin(layout, 'revokedkey', revokedkey);
    await signWith(layout, revokedkey.manifestDigest, retired);

    await addUserPlugin(layout, 'revokeddigest', revokeddigest.reference);
    await pin(layout, 'revokeddigest', revokeddigest);
    await signWith(layout, revokeddigest.manifestDigest, publisher);

    const revoked = addRevocation(addRevocation(EMPTY_REVOCATION_LIST, { kind: 'key', value: 'retired', at: new Date() }), { kind: 'digest', value: revokeddigest.manifestDigest, at: new Date() });
    await saveRevocationList(layout.revocationFile, revoked);

    // Pinned and signed, but the runtime holds other content under the manifest's reference.
    await addUserPlugin(layout, 'swapped', held.reference);
    await pin(layout, 'swapped', { reference: 'localhost/carapace-test/gate-gone:x', manifestDigest: `sha256:${'5'.repeat(64)}` });
    await signWith(layout, `sha256:${'5'.repeat(64)}`, publisher);

    // Pinned and signed, and nothing in the runtime at all.
    await addUserPlugin(layout, 'absent', 'localhost/carapace-test/gate-absent:1');
    await pin(layout, 'absent', { reference: 'localhost/carapace-test/gate-absent:1', manifestDigest: `sha256:${'6'.repeat(64)}` });
    await signWith(layout, `sha256:${'6'.repeat(64)}`, publisher);

    core = await startCoreIn(layout);
  }, 240_000);

  afterAll(async () => {
    await core?.stopAll();
    for (const image of tiny) await podman(['rmi', '--force', image.imageId]);
    await runtime?.[Symbol.asyncDispose]();
  }, 60_000);

  const report = (name: string) => core.plugins().find((plugin) => plugin.name === name);

  it('starts the plugin that is pinned, held and signed by a trusted key, and the built-ins', async () => {
    for (const name of ['good', 'echo', 'memory']) expect(report(name)?.state, name).toBe('running');
    expect(report('good')?.container?.image).toBe(hostile.imageId);
    expect(await containersOf(runtime, layout, 'good')).toHaveLength(1);
  });

  it.each(Object.entries(expected))('refuses %s with %s, audits it, and creates no container', async (name, code) => {
    expect(report(name)).toMatchObject({ state: 'failed', container: null, problem: { code } });
    expect(lifecycleRecords(layout).filter((record) => record.topic === 'plugin.failed' && record.source === name).map((record) => record.code)).toEqual([code]);
    expect(await containersOf(runtime, layout, name)).toEqual([]);
  });

  it('names both digests when the runtime holds other content', () => {
    const message = report('swapped')?.problem?.message ?? '';
    expect(message).toContain(`sha256:${'5'.repeat(64)}`);
    expect(message).toMatch(/sha256:[0-9a-f]{64}.*sha256:[0-9a-f]{64}/);
  });
});
