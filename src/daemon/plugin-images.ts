import type { HomeLayout } from '../config/carapace-home.js';
import { CarapaceError } from '../errors.js';
import type { BuildMemo } from '../images/build-memo.js';
import { builtinPluginImage, isBuiltinPlugin } from '../images/builtin-plugins.js';
import { ensureImage, type EnsuredImage } from '../images/ensure-image.js';
import type { Logger } from '../logging/logger.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { loadLockFile, pinOf, toRepository, type PinnedImage } from '../trust/lock-file.js';
import { CARAPACE_VERSION } from '../version.js';
import type { LifecycleRecord } from './audit-recorder.js';
import { ImageBuildMemo, imageBuildMemoFile } from './image-build-memo.js';
import { verifyPinnedSignature } from './image-signature.js';
import { digestMismatch, pinImage, signLocally } from './local-pins.js';
import type { CatalogedPlugin } from './plugin-catalog.js';

/** What the start gate needs besides the runtime: the home's lock and trust files, and where to report. */
export interface ImageGateContext {
  readonly layout: HomeLayout;
  readonly log?: Logger;
  /** Audits a first-start pin of a built-in plugin (`image.pinned`). */
  readonly recordLifecycle?: (record: LifecycleRecord) => Promise<void>;
}

/**
 * The start gate: the image id a plugin's container is created from, or a typed refusal. Fail
 * closed, with no way to skip a step:
 * 1. the plugin must be pinned in `carapace.lock` (IMAGE_NOT_PINNED), except a built-in plugin at
 *    the first start of a home, which is built here, signed with the local key and pinned;
 *    a built-in that is pinned must build to exactly the pinned digest (IMAGE_DIGEST_MISMATCH);
 * 2. the runtime must hold an image whose manifest digest is the pinned one (IMAGE_DIGEST_MISMATCH
 *    naming both digests, or IMAGE_NOT_FOUND when it holds nothing under that name);
 * 3. the bundle beside the lock must verify against the trust policy and the revocation list
 *    (SIGNATURE_*, TRUST_REVOKED).
 * Steps 2 and 3 run concurrently and both must pass; when both refuse, step 2's refusal is the one
 * reported. The id returned is the image's content id, which no tag can re-point.
 */
export async function resolvePluginImage(runtime: ContainerRuntime, plugin: CatalogedPlugin, context: ImageGateContext): Promise<string> {
  const name = plugin.manifest.name;
  const pin = plugin.builtin ? (await prepareBuiltinImage(runtime, name, context)).pin : pinOf(await loadLockFile(context.layout.lockFile), name);
  if (pin === undefined) {
    throw new CarapaceError('IMAGE_NOT_PINNED', `plugin ${name} is not pinned in ${context.layout.lockFile}; add it with carapace plugin add`, {
      details: { plugin: name, lockFile: context.layout.lockFile },
    });
  }
  // Both checks run at once (a first verification imports Sigstore's modules while the runtime
  // answers), and both must pass; a refusal by the runtime is reported first, as when they ran in turn.
  const [held, signed] = await Promise.allSettled([
    verifyRuntimeImage(runtime, name, pin, plugin.manifest.image),
    verifyPinnedSignature(context.layout, pin.digest),
  ]);
  if (held.status === 'rejected') throw held.reason;
  if (signed.status === 'rejected') throw signed.reason;
  return held.value;
}

export interface PreparedBuiltinImage {
  readonly image: EnsuredImage;
  readonly pin: PinnedImage;
  /** True if this call signed and pinned the image. */
  readonly pinned: boolean;
}

/**
 * Builds a built-in plugin's image from the installed package (deterministic, so the digest is a
 * fact about the package, not about this machine) and loads it if the runtime lacks it. When the
 * home has no pin for it yet, signs it with the local key and pins it; when it has one, the build
 * must match it. `replace` (for `carapace image build`) re-signs and re-pins a new digest instead.
 *
 * A plugin that is pinned is first checked through the home's build memo: when none of the image's
 * inputs changed since they composed to the pinned digest, and the runtime holds that image, nothing
 * is composed. Anything else (a miss that composes to another digest, no pin, `replace`) is decided
 * by a build that recalls nothing from the memo, as it would be without one.
 */
export async function prepareBuiltinImage(
  runtime: Pick<ContainerRuntime, 'findImage' | 'loadImage'>,
  name: string,
  context: ImageGateContext,
  options: { readonly replace?: boolean } = {},
): Promise<PreparedBuiltinImage> {
  if (!isBuiltinPlugin(name)) throw new CarapaceError('IMAGE_NOT_FOUND', `no image recipe for built-in plugin ${name}`, { details: { plugin: name } });
  const memo = await ImageBuildMemo.open(imageBuildMemoFile(context.layout));
  try {
    const pinned = options.replace === true ? undefined : pinOf(await loadLockFile(context.layout.lockFile), name);
    if (pinned !== undefined) {
      // Only a match with the pin is taken from this attempt; a mismatch or a failure (a memo gone
      // stale in some way its fingerprints did not show) is left to the build below to decide and report.
      const image = await ensureBuiltinImage(runtime, name, memo).catch(() => undefined);
      if (image?.manifestDigest === pinned.digest) return { image, pin: pinned, pinned: false };
    }
    return await buildAndPin(runtime, name, context, memo, options);
  } finally {
    // The memo only saves work; a start whose image checks passed does not fail for want of it.
    await memo.save().catch((error: unknown) => context.log?.warn({ err: error, plugin: name }, 'image build memo not saved'));
  }
}

async function ensureBuiltinImage(runtime: Pick<ContainerRuntime, 'findImage' | 'loadImage'>, name: string, memo: BuildMemo): Promise<EnsuredImage> {
  const definition = await builtinPluginImage(name, { memo });
  return ensureImage(runtime, definition, { memo, builderVersion: CARAPACE_VERSION });
}

async function buildAndPin(
  runtime: Pick<ContainerRuntime, 'findImage' | 'loadImage'>,
  name: string,
  context: ImageGateContext,
  memo: ImageBuildMemo,
  options: { readonly replace?: boolean },
): Promise<PreparedBuiltinImage> {
  const { layout } = context;
  const image = await ensureBuiltinImage(runtime, name, memo.learnOnly);
  const existing = pinOf(await loadLockFile(layout.lockFile), name);
  if (existing !== undefined && existing.digest === image.manifestDigest && options.replace !== true) return { image, pin: existing, pinned: false };
  if (existing !== undefined && existing.digest !== image.manifestDigest && options.replace !== true) {
    throw digestMismatch(name, existing.digest, image.manifestDigest);
  }
  const { keyId } = await signLocally(layout, image.manifestDigest);
  const pin = await pinImage(layout, { plugin: name, image: toRepository(image.reference), digest: image.manifestDigest, replace: options.replace === true });
  context.log?.info({ plugin: name, digest: pin.digest, keyId }, 'built-in plugin image signed with the local key and pinned');
  await context.recordLifecycle?.({ event: 'image.pinned', plugin: name, detail: `${pin.image}@${pin.digest} signed by local key ${keyId}` });
  return { image, pin, pinned: true };
}

/**
 * The id of the runtime's image whose manifest digest is the pinned one. Podman keeps the manifest
 * digest of what it loaded (RepoDigests); the lookup is by digest, and the answer is checked again,
 * so a runtime that resolves loosely cannot hand over other content. `reference` (the manifest's
 * image) is only looked at to name what the runtime holds instead, in the refusal.
 */
export async function verifyRuntimeImage(runtime: Pick<ContainerRuntime, 'findImage'>, plugin: string, pin: PinnedImage, reference: string): Promise<string> {
  const byDigest = await runtime.findImage(`${pin.image}@${pin.digest}`);
  if (byDigest !== undefined && manifestDigestsOf(byDigest.digests).includes(pin.digest)) return byDigest.id;
  const candidates = [byDigest, await runtime.findImage(reference), reference === pin.image ? undefined : await runtime.findImage(pin.image)];
  const held = candidates.find((image) => image !== undefined);
  if (held === undefined) {
    throw new CarapaceError('IMAGE_NOT_FOUND', `plugin ${plugin}: the runtime holds no image ${pin.image}@${pin.digest}`, {
      details: { plugin, pinned: pin.digest, image: pin.image },
    });
  }
  const found = manifestDigestsOf(held.digests);
  // Docker's classic image store keeps no manifest digest for a loaded archive: refuse, and say why.
  const what = found.length === 0 ? `image ${held.id}, for which the runtime reports no manifest digest` : found.join(', ');
  throw digestMismatch(plugin, pin.digest, what, 'the image in the runtime is not the one that was pinned and signed; reload the pinned image (carapace plugin add, or carapace image build for built-ins)');
}

/** `repo@sha256:...` entries to their digests. */
function manifestDigestsOf(repoDigests: readonly string[]): string[] {
  return repoDigests.map((entry) => entry.slice(entry.lastIndexOf('@') + 1));
}
