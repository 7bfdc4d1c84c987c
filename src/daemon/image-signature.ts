import type { HomeLayout } from '../config/carapace-home.js';
import { BUILTIN_PLUGIN_NAMES } from '../images/builtin-plugins.js';
import { bundleFileOf } from '../trust/bundle-file.js';
import { loadLockFile, pinOf } from '../trust/lock-file.js';
import { loadRevocationList } from '../trust/revocation-list.js';
import { readTrustFile } from '../trust/trust-file.js';
import { loadTrustedRoot, loadTrustPolicy } from '../trust/trust-policy.js';
import { VerificationCache, verifyImageSignatureCached } from '../trust/verification-cache.js';
import type { VerifiedSignature } from '../trust/verify-image.js';

/**
 * Verifies the bundle kept beside the lock for `digest` against the home's trust policy and
 * revocation list, offline, through the verification cache (a warm start pays a hash). Every input
 * is read afresh, so a key revoked a second ago is refused at the next start. Throws the
 * SIGNATURE_* and TRUST_* codes of the trust layer; a missing bundle is SIGNATURE_MISSING.
 */
export async function verifyPinnedSignature(layout: HomeLayout, digest: string): Promise<VerifiedSignature> {
  const [policy, revocations, bundleBytes, cache] = await Promise.all([
    loadTrustPolicy(layout.trustPolicyFile),
    loadRevocationList(layout.revocationFile),
    readTrustFile(bundleFileOf(layout.home, digest)),
    VerificationCache.open(layout.verificationCacheFile),
  ]);
  const trustedRoot = await loadTrustedRoot(policy, layout.trustPolicyFile);
  return verifyImageSignatureCached(cache, {
    manifestDigest: digest,
    bundleBytes,
    policy,
    revocations,
    // The parsed root, re-serialized: the same root always gives the same key, another root a miss.
    ...(trustedRoot === undefined ? {} : { trustedRoot, trustedRootBytes: JSON.stringify(trustedRoot) }),
  });
}

/**
 * Starts loading the signature verifier (80-200 ms) when this start is going to need it (see
 * needsSignatureVerifier). Called as a core starts, the loading overlaps with finding the runtime
 * and reading the manifests instead of waiting in the first plugin's start gate. Only a warm-up: it
 * decides nothing and reports nothing; what it cannot read, the gate reads and reports.
 */
export function warmSignatureVerifier(layout: HomeLayout): void {
  needsSignatureVerifier(layout)
    .then((needed) => (needed ? import('../trust/verify-image.js') : undefined))
    // Nothing to report here: the gate meets the same problem and reports it with its code.
    .catch(() => undefined);
}

/**
 * Whether a start of this home will verify a signature it has no cached pass for: an image pinned
 * in the lock whose digest has no pass in the verification cache, or a built-in without a pin yet
 * (a home's first start signs it, then verifies it). A prediction for warming up, never a verdict.
 */
export async function needsSignatureVerifier(layout: HomeLayout): Promise<boolean> {
  const [lock, cache] = await Promise.all([loadLockFile(layout.lockFile), VerificationCache.open(layout.verificationCacheFile)]);
  const unpinnedBuiltin = BUILTIN_PLUGIN_NAMES.some((name) => pinOf(lock, name) === undefined);
  return unpinnedBuiltin || Object.values(lock.plugins).some((pin) => !cache.hasPassFor(pin.digest));
}

/** How doctor and the CLI name a signer. */
export function describeSigner(verified: VerifiedSignature): string {
  return verified.signer.kind === 'key'
    ? `key ${verified.signer.keyId} (${verified.signer.fingerprint})`
    : `${verified.signer.subject} (issuer ${verified.signer.issuer})`;
}
