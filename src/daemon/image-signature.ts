import type { HomeLayout } from '../config/carapace-home.js';
import { bundleFileOf } from '../trust/bundle-file.js';
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

/** How doctor and the CLI name a signer. */
export function describeSigner(verified: VerifiedSignature): string {
  return verified.signer.kind === 'key'
    ? `key ${verified.signer.keyId} (${verified.signer.fingerprint})`
    : `${verified.signer.subject} (issuer ${verified.signer.issuer})`;
}
