import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CarapaceError, toCarapaceError } from '../errors.js';
import type { ContainerRuntime, ImageSummary } from '../runtime/container-runtime.js';
import type { BuildMemo } from './build-memo.js';
import { composeImage, digestImage, writeImageArchive, type ComposeImageOptions } from './image-builder.js';
import type { ImageDefinition } from './image-definition.js';
import { fingerprintImageInputs } from './input-fingerprint.js';
import { toContentTag, type OciImageDigests } from './oci-image.js';

export interface EnsureImageOptions extends ComposeImageOptions {
  /** Parent of the temporary directory the archive is written to; defaults to the OS temp dir. */
  readonly workDir?: string;
  /**
   * Remembers the digests the definition's inputs composed to, keyed by their fingerprint: when no
   * input changed and the runtime holds that image, nothing is read or composed. Only for callers
   * that hold the answer to a digest they already trust (a pin), since it skips the composition.
   */
  readonly memo?: BuildMemo;
  /** Part of the memo key: the builder's version as the caller knows it. */
  readonly builderVersion?: string;
}

export interface EnsuredImage {
  /** `name:tag`, the tag derived from the manifest digest. */
  readonly reference: string;
  /** `name@sha256:...`; Podman resolves it, Docker's classic image store does not keep manifest digests. */
  readonly pinnedReference: string;
  /**
   * The image id (`sha256:` + config digest). Both Podman and Docker key images by it and run by
   * it, and the config pins every layer's content, so it is the most portable pinned reference.
   */
  readonly imageId: string;
  readonly manifestDigest: string;
  readonly configDigest: string;
  /** True if this call loaded the image, false if the runtime already had it. */
  readonly loaded: boolean;
}

/**
 * Makes sure `runtime` holds exactly the image `definition` describes. The image's digests are
 * computed first (the inputs read and hashed as streams), so the check is on content, never on a
 * tag alone: a runtime image under our name but with another id is replaced by composing and
 * loading ours. With a memo, inputs whose fingerprint was hashed before are not read at all, and
 * the runtime must still hold the image of that id.
 */
export async function ensureImage(
  runtime: Pick<ContainerRuntime, 'findImage' | 'loadImage'>,
  definition: ImageDefinition,
  options: EnsureImageOptions = {},
): Promise<EnsuredImage> {
  // Fingerprinted before anything is read: a file that changes during the composition then leaves
  // an entry under its old fingerprint, which the next start misses, never a stale hit.
  const fingerprint = options.memo === undefined ? undefined : fingerprintImageInputs(definition, options);
  const known = fingerprint === undefined || options.memo === undefined ? undefined : recallDigests(options.memo, fingerprint, definition.name);
  if (known !== undefined && isSameImage(await runtime.findImage(known.reference), known.configDigest)) return { ...known, loaded: false };

  const digests = toEnsuredDigests(await digestImage(definition, options));
  if (fingerprint !== undefined) options.memo?.remember(fingerprint, JSON.stringify(digests));
  if (isSameImage(await runtime.findImage(digests.reference), digests.configDigest)) return { ...digests, loaded: false };

  // Only an image the runtime lacks is composed whole. Its files are read again, so what is loaded
  // and reported is this composition, even if a file changed since it was hashed.
  const image = await composeImage(definition, options);
  const result = toEnsuredDigests(image);
  const dir = await mkdtemp(join(options.workDir ?? tmpdir(), 'carapace-image-'));
  try {
    const archivePath = await writeImageArchive(image, dir);
    const loadedId = await loadImage(runtime, archivePath);
    if (!sameId(loadedId, image.configDigest)) {
      throw new CarapaceError('IMAGE_LOAD_FAILED', `runtime loaded ${loadedId}, expected ${image.configDigest}`, {
        details: { reference: image.reference, loadedId, expectedId: image.configDigest },
      });
    }
    // The name must now point at our image too, or a later run by name would start something else.
    if (!isSameImage(await runtime.findImage(image.reference), image.configDigest)) {
      throw new CarapaceError('IMAGE_LOAD_FAILED', `${image.reference} does not name the loaded image`, {
        details: { reference: image.reference, expectedId: image.configDigest },
      });
    }
    return { ...result, loaded: true };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

type ImageDigests = Omit<EnsuredImage, 'loaded'>;

function toEnsuredDigests(image: OciImageDigests): ImageDigests {
  const { reference, pinnedReference, manifestDigest, configDigest } = image;
  return { reference, pinnedReference, imageId: configDigest, manifestDigest, configDigest };
}

const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** The digests remembered for `fingerprint`, if they are well formed and name this image. */
function recallDigests(memo: BuildMemo, fingerprint: string, name: string): ImageDigests | undefined {
  let value: unknown;
  try {
    value = JSON.parse(memo.recall(fingerprint) ?? 'null');
  } catch {
    return undefined; // not JSON: a miss, overwritten by this composition
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { reference, pinnedReference, imageId, manifestDigest, configDigest } = value as Record<string, unknown>;
  if (typeof manifestDigest !== 'string' || !DIGEST_PATTERN.test(manifestDigest)) return undefined;
  if (typeof configDigest !== 'string' || !DIGEST_PATTERN.test(configDigest) || imageId !== configDigest) return undefined;
  if (reference !== `${name}:${toContentTag(manifestDigest)}` || pinnedReference !== `${name}@${manifestDigest}`) return undefined;
  return { reference, pinnedReference, imageId, manifestDigest, configDigest };
}

async function loadImage(runtime: Pick<ContainerRuntime, 'loadImage'>, archivePath: string): Promise<string> {
  try {
    return await runtime.loadImage(archivePath);
  } catch (error) {
    throw toCarapaceError(error, 'IMAGE_LOAD_FAILED', `cannot load ${archivePath}`);
  }
}

function isSameImage(found: ImageSummary | undefined, configDigest: string): boolean {
  return found !== undefined && sameId(found.id, configDigest);
}

/** Runtimes report ids with or without the `sha256:` prefix. */
function sameId(id: string, configDigest: string): boolean {
  const hex = configDigest.slice('sha256:'.length);
  return id === configDigest || id === hex;
}
