import type { HomeLayout } from '../config/carapace-home.js';
import { CarapaceError } from '../errors.js';
import { saveBundleFile } from '../trust/bundle-file.js';
import { withFileGuard } from '../trust/file-guard.js';
import { publicKeyFingerprint } from '../trust/key-fingerprint.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { bundlePathFor, pinOf, toRepository, updateLockFile, withPin, type PinnedImage } from '../trust/lock-file.js';
import { MANIFEST_DIGEST_PATTERN } from '../trust/signed-payload.js';
import { loadOrCreateLocalSigningKey, type SigningKey } from '../trust/signing-key.js';
import { loadTrustPolicy, saveTrustPolicy } from '../trust/trust-policy.js';

/** The policy's name for the home's own signing key, which signs the images built on this machine. */
export const LOCAL_KEY_ID = 'local';

/**
 * The home's local signing key, created on first need, and listed in the trust policy as `local`.
 * A policy that already names another key `local` is refused rather than rewritten: the key file
 * was replaced, or the policy was edited, and either way the user should decide which one to trust.
 */
export async function localSigningKey(layout: HomeLayout): Promise<SigningKey> {
  const key = await loadOrCreateLocalSigningKey(layout.localSigningKey);
  await trustLocalKey(layout, key);
  return key;
}

async function trustLocalKey(layout: HomeLayout, key: SigningKey): Promise<void> {
  // Plugins pin in parallel at a first start, and a trust command may edit the policy meanwhile.
  await withFileGuard(layout.trustPolicyFile, async () => {
    const policy = await loadTrustPolicy(layout.trustPolicyFile);
    const named = policy.keys.find((entry) => entry.id === LOCAL_KEY_ID);
    if (named !== undefined) {
      if (publicKeyFingerprint(named.publicKeyPem) === key.keyId) return;
      throw new CarapaceError(
        'TRUST_POLICY_INVALID',
        `${layout.trustPolicyFile}: key "${LOCAL_KEY_ID}" is not the local signing key ${layout.localSigningKey}; remove one of them, then run carapace image build`,
        { details: { file: layout.trustPolicyFile, keyId: LOCAL_KEY_ID } },
      );
    }
    await saveTrustPolicy(layout.trustPolicyFile, { ...policy, keys: [...policy.keys, { id: LOCAL_KEY_ID, publicKeyPem: key.publicKeyPem }] });
  });
}

/** Signs `digest` with the local key and writes the bundle beside the lock; returns the bundle's relative path. */
export async function signLocally(layout: HomeLayout, digest: string): Promise<{ bundle: string; keyId: string }> {
  const key = await localSigningKey(layout);
  // Sigstore's signing modules take most of a second to import: only a start that signs pays for them.
  const { signImageDigest } = await import('../trust/sign-image.js');
  const bundle = await saveBundleFile(layout.home, digest, await signImageDigest(digest, key));
  return { bundle, keyId: key.keyId };
}

export interface PinRequest {
  readonly plugin: string;
  /** The repository the runtime holds the image under (no tag). */
  readonly image: string;
  readonly digest: string;
  /**
   * Replace a pin to another digest (`carapace image build`, `plugin add`). Without it an existing
   * pin to another digest is refused with IMAGE_DIGEST_MISMATCH: a start never re-pins by itself.
   */
  readonly replace: boolean;
  readonly now?: Date;
}

/** Writes the pin into the lock (its bundle must already be in place) and returns it. */
export async function pinImage(layout: HomeLayout, request: PinRequest): Promise<PinnedImage> {
  const pinned: PinnedImage = {
    image: request.image,
    digest: request.digest,
    bundle: bundlePathFor(request.digest),
    pinnedAt: (request.now ?? new Date()).toISOString(),
  };
  let result = pinned;
  await updateLockFile(layout.lockFile, (lock) => {
    const existing = pinOf(lock, request.plugin);
    if (existing !== undefined && existing.digest === request.digest && existing.image === request.image) {
      result = existing;
      return lock;
    }
    if (existing !== undefined && !request.replace) throw digestMismatch(request.plugin, existing.digest, request.digest);
    return withPin(lock, request.plugin, pinned);
  });
  return result;
}

/** The refusal when what would run is not what the lock pins; the fix for built-ins is a rebuild. */
export function digestMismatch(plugin: string, pinned: string, found: string, hint = 'run carapace image build to rebuild, sign and re-pin the built-in images'): CarapaceError {
  return new CarapaceError('IMAGE_DIGEST_MISMATCH', `plugin ${plugin}: the lock pins ${pinned}, but the image is ${found}; ${hint}`, {
    details: { plugin, pinned, found },
  });
}

/**
 * The manifest digest of the image the runtime holds under `reference`, with the repository it is
 * recorded under. This is how a plugin image built or loaded by hand gets pinned: the user vouches
 * for what the runtime holds now (`carapace image sign PLUGIN`), and from then on only that content runs.
 */
export async function runtimeManifestDigest(runtime: Pick<ContainerRuntime, 'findImage'>, reference: string): Promise<{ image: string; digest: string }> {
  const found = await runtime.findImage(reference);
  if (found === undefined) throw new CarapaceError('IMAGE_NOT_FOUND', `the runtime holds no image ${reference}`, { details: { image: reference } });
  const entries = found.digests
    .map((entry) => ({ image: entry.slice(0, entry.lastIndexOf('@')), digest: entry.slice(entry.lastIndexOf('@') + 1) }))
    .filter((entry) => MANIFEST_DIGEST_PATTERN.test(entry.digest));
  const repository = toRepository(reference);
  const chosen = entries.find((entry) => entry.image === repository) ?? entries[0];
  if (chosen === undefined) {
    throw new CarapaceError('RUNTIME_UNSUPPORTED', `the runtime reports no manifest digest for ${reference}, so it cannot be pinned (Docker's classic image store keeps none for loaded images)`, {
      details: { image: reference, id: found.id },
    });
  }
  // An image with several digests (loaded twice, recompressed) is ambiguous only in name: all are this content.
  return chosen;
}
