import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureCarapaceHome, type HomeLayout } from '../config/carapace-home.js';
import type { ContainerRuntime, ImageSummary } from '../runtime/container-runtime.js';
import { bundleFileOf, saveBundleFile } from '../trust/bundle-file.js';
import { loadLockFile, pinOf } from '../trust/lock-file.js';
import { addRevocation, EMPTY_REVOCATION_LIST, saveRevocationList } from '../trust/revocation-list.js';
import { signImageDigest } from '../trust/sign-image.js';
import { generateSigningKey } from '../trust/signing-key.js';
import { loadTrustPolicy } from '../trust/trust-policy.js';
import type { PluginManifest } from '../wire/manifest.js';
import { LOCAL_KEY_ID, pinImage, runtimeManifestDigest, signLocally } from './local-pins.js';
import type { CatalogedPlugin } from './plugin-catalog.js';
import { resolvePluginImage, verifyRuntimeImage } from './plugin-images.js';

const REPO = 'localhost/test/gate';
const DIGEST = `sha256:${'1'.repeat(64)}`;
const OTHER = `sha256:${'2'.repeat(64)}`;
const IMAGE_ID = `sha256:${'c'.repeat(64)}`;

/** findImage over a list, resolving names and `repo@digest` the way Podman does (digest only). */
class ImageList implements Pick<ContainerRuntime, 'findImage'> {
  constructor(readonly images: ImageSummary[]) {}
  async findImage(reference: string): Promise<ImageSummary | undefined> {
    const at = reference.lastIndexOf('@');
    if (at !== -1) return this.images.find((image) => image.digests.some((entry) => entry.endsWith(reference.slice(at))));
    return this.images.find((image) => image.id === reference || image.tags.includes(reference));
  }
}

const held = (digest: string, id = IMAGE_ID): ImageSummary => ({ id, tags: [`${REPO}:1`], digests: [`${REPO}@${digest}`] });
const plugin: CatalogedPlugin = { builtin: false, dir: '/unused', manifest: { name: 'gate', image: `${REPO}:1` } as PluginManifest };

let home: string;
let layout: HomeLayout;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'carapace-gate-'));
  layout = await ensureCarapaceHome(join(home, 'home'));
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

async function pinSigned(digest = DIGEST): Promise<void> {
  await signLocally(layout, digest);
  await pinImage(layout, { plugin: 'gate', image: REPO, digest, replace: false });
}

const gate = (images: ImageSummary[]) => resolvePluginImage(new ImageList(images) as unknown as ContainerRuntime, plugin, { layout });

describe('the start gate for a plugin that is not built in', () => {
  it('returns the image id when the pin, the runtime and the signature agree; the local key is in the policy', async () => {
    await pinSigned();
    expect(await gate([held(DIGEST)])).toBe(IMAGE_ID);
    const policy = await loadTrustPolicy(layout.trustPolicyFile);
    expect(policy.keys.map((key) => key.id)).toEqual([LOCAL_KEY_ID]);
    expect(pinOf(await loadLockFile(layout.lockFile), 'gate')).toMatchObject({ image: REPO, digest: DIGEST });
  });

  it('refuses an unpinned plugin with IMAGE_NOT_PINNED', async () => {
    await expect(gate([held(DIGEST)])).rejects.toMatchObject({ code: 'IMAGE_NOT_PINNED' });
  });

  it('refuses other content under the same tag with IMAGE_DIGEST_MISMATCH naming both digests', async () => {
    await pinSigned();
    await expect(gate([held(OTHER)])).rejects.toMatchObject({ code: 'IMAGE_DIGEST_MISMATCH', details: { pinned: DIGEST, found: OTHER } });
  });

  it('refuses a runtime that reports no manifest digest, and one that answers a digest lookup with other content', async () => {
    await pinSigned();
    await expect(gate([{ id: IMAGE_ID, tags: [`${REPO}:1`], digests: [] }])).rejects.toMatchObject({ code: 'IMAGE_DIGEST_MISMATCH' });
    const loose = { findImage: async () => held(OTHER) } as unknown as ContainerRuntime;
    await expect(resolvePluginImage(loose, plugin, { layout })).rejects.toMatchObject({ code: 'IMAGE_DIGEST_MISMATCH' });
  });

  it('says IMAGE_NOT_FOUND when the runtime holds nothing by that digest or name', async () => {
    await pinSigned();
    await expect(gate([])).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
  });

  it('refuses a missing bundle with SIGNATURE_MISSING', async () => {
    await pinSigned();
    await unlink(bundleFileOf(layout.home, DIGEST));
    await expect(gate([held(DIGEST)])).rejects.toMatchObject({ code: 'SIGNATURE_MISSING' });
  });

  it('refuses a bundle signed by a key the policy does not list with SIGNATURE_UNTRUSTED', async () => {
    await pinSigned();
    await saveBundleFile(layout.home, DIGEST, await signImageDigest(DIGEST, generateSigningKey()));
    await expect(gate([held(DIGEST)])).rejects.toMatchObject({ code: 'SIGNATURE_UNTRUSTED' });
  });

  it('refuses the bundle of another digest copied into place with SIGNATURE_INVALID', async () => {
    await pinSigned();
    await signLocally(layout, OTHER);
    await writeFile(bundleFileOf(layout.home, DIGEST), await readFile(bundleFileOf(layout.home, OTHER)));
    await expect(gate([held(DIGEST)])).rejects.toMatchObject({ code: 'SIGNATURE_INVALID' });
  });

  it('refuses a revoked key and a revoked digest with TRUST_REVOKED, even after a cached pass', async () => {
    await pinSigned();
    expect(await gate([held(DIGEST)])).toBe(IMAGE_ID);
    await saveRevocationList(layout.revocationFile, addRevocation(EMPTY_REVOCATION_LIST, { kind: 'key', value: LOCAL_KEY_ID, at: new Date() }));
    await expect(gate([held(DIGEST)])).rejects.toMatchObject({ code: 'TRUST_REVOKED', details: { kind: 'key' } });
    await saveRevocationList(layout.revocationFile, addRevocation(EMPTY_REVOCATION_LIST, { kind: 'digest', value: DIGEST, at: new Date() }));
    await expect(gate([held(DIGEST)])).rejects.toMatchObject({ code: 'TRUST_REVOKED', details: { kind: 'digest' } });
  });
});

describe('verifyRuntimeImage and runtimeManifestDigest', () => {
  it('accepts the pinned digest under another repository name: the content is what is pinned', async () => {
    const pin = { image: REPO, digest: DIGEST, bundle: '', pinnedAt: '' };
    const elsewhere: ImageSummary = { id: IMAGE_ID, tags: [], digests: [`localhost/other@${DIGEST}`] };
    expect(await verifyRuntimeImage(new ImageList([elsewhere]), 'gate', pin, `${REPO}:1`)).toBe(IMAGE_ID);
  });

  it('reads the digest recorded under the reference, and refuses a runtime that records none', async () => {
    const image: ImageSummary = { id: IMAGE_ID, tags: [`${REPO}:1`], digests: [`localhost/other@${OTHER}`, `${REPO}@${DIGEST}`] };
    expect(await runtimeManifestDigest(new ImageList([image]), `${REPO}:1`)).toEqual({ image: REPO, digest: DIGEST });
    await expect(runtimeManifestDigest(new ImageList([{ ...image, digests: [] }]), `${REPO}:1`)).rejects.toMatchObject({ code: 'RUNTIME_UNSUPPORTED' });
    await expect(runtimeManifestDigest(new ImageList([]), `${REPO}:1`)).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
  });

  it('never re-pins another digest unless asked to', async () => {
    await pinSigned();
    await expect(pinImage(layout, { plugin: 'gate', image: REPO, digest: OTHER, replace: false })).rejects.toMatchObject({ code: 'IMAGE_DIGEST_MISMATCH' });
    expect(pinOf(await loadLockFile(layout.lockFile), 'gate')?.digest).toBe(DIGEST);
    await pinImage(layout, { plugin: 'gate', image: REPO, digest: OTHER, replace: true });
    expect(pinOf(await loadLockFile(layout.lockFile), 'gate')?.digest).toBe(OTHER);
  });
});
