import { createHash, createPublicKey } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as SigstoreBundle from '@sigstore/bundle';
import type { Bundle } from '@sigstore/bundle';
import type * as SigstoreProtobufSpecs from '@sigstore/protobuf-specs';
import type * as SigstoreVerify from '@sigstore/verify';
import type { KeyFinderFunc } from '@sigstore/verify';
import { CarapaceError, type ErrorCode } from '../errors.js';
import { publicKeyFingerprint } from './key-fingerprint.js';
import { verifyNotRevoked, type RevocationList } from './revocation-list.js';
import { toSignedPayload, parseManifestDigest } from './signed-payload.js';
import { toSubjectMatcher, type TrustPolicy, type TrustedKey } from './trust-policy.js';
import { toTrustMaterialFor } from './trusted-root.js';

// Sigstore's packages are CommonJS. Imported from ESM, Node runs its CommonJS lexer over every file
// they re-export to learn the export names: measured, that was half of loading them (60-100 ms of a
// first start's 110-220 ms). require() skips it; the types still come from the imports above.
const require = createRequire(import.meta.url);
const { bundleFromJSON } = require('@sigstore/bundle') as typeof SigstoreBundle;
const { HashAlgorithm } = require('@sigstore/protobuf-specs') as typeof SigstoreProtobufSpecs;
const { PolicyError, toSignedEntity, VerificationError, Verifier } = require('@sigstore/verify') as typeof SigstoreVerify;

/** Who signed a verified image: a key the policy lists, or a keyless identity it allows. */
export type VerifiedSigner =
  | { readonly kind: 'key'; readonly keyId: string; readonly fingerprint: string }
  | { readonly kind: 'keyless'; readonly subject: string; readonly issuer: string };

/** The outcome of a verification that passed. There is no negative result: a refusal throws. */
export interface VerifiedSignature {
  readonly digest: string;
  readonly signer: VerifiedSigner;
}

export interface VerifyImageInput {
  /** The manifest digest of the image that is about to run: the signed payload is rebuilt from it. */
  readonly manifestDigest: string;
  /** The bundle's JSON value, as read from disk or a registry; undefined or null = no signature. */
  readonly bundle: unknown;
  readonly policy: TrustPolicy;
  readonly revocations: RevocationList;
  /** The TrustedRoot JSON the policy names; needed for keyless signatures, log entries and timestamps. */
  readonly trustedRoot?: unknown;
}

/**
 * Verifies that `bundle` is a valid Sigstore signature over the simple-signing payload of
 * `manifestDigest`, by a signer `policy` trusts, meeting its log and timestamp requirements, and
 * that neither the digest nor the signer is revoked. Offline and synchronous; throws on refusal:
 * SIGNATURE_MISSING, SIGNATURE_INVALID (unparseable, other digest, bad signature, log entry or
 * timestamp), SIGNATURE_UNTRUSTED (unknown key, certificate not from a trusted CA or expired at
 * signing time), SIGNATURE_ISSUER_MISMATCH, SIGNATURE_IDENTITY_MISMATCH, SIGNATURE_TLOG_MISSING,
 * SIGNATURE_TIMESTAMP_MISSING, TRUST_REVOKED, TRUST_POLICY_INVALID (a trusted root that does not parse).
 */
export function verifyImageSignature(input: VerifyImageInput): VerifiedSignature {
  const digest = parseManifestDigest(input.manifestDigest);
  // A revoked digest is refused before anything else looks at its bundle.
  verifyNotRevoked(input.revocations, { digest });
  const bundle = parseBundle(input.bundle, digest);
  const payload = toSignedPayload(digest);
  verifyCoversPayload(bundle, payload, digest);
  verifyRequirements(bundle, input.policy, digest);
  const signer =
    bundle.verificationMaterial.content.$case === 'publicKey'
      ? verifyKeySignature(bundle, payload, bundle.verificationMaterial.content.publicKey.hint, input)
      : verifyKeylessSignature(bundle, payload, input);
  verifyNotRevoked(
    input.revocations,
    signer.kind === 'key' ? { digest, keyId: signer.keyId, keyFingerprint: signer.fingerprint } : { digest, subject: signer.subject },
  );
  return { digest, signer };
}

function parseBundle(json: unknown, digest: string): Bundle {
  if (json === undefined || json === null) throw refusal('SIGNATURE_MISSING', `no signature bundle for ${digest}`, digest);
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(json);
  } catch (error) {
    throw refusal('SIGNATURE_INVALID', `the signature bundle for ${digest} does not parse: ${messageOf(error)}`, digest, error);
  }
  // A DSSE envelope signs its own payload, which the verifier would check instead of ours: only a
  // message signature over the payload rebuilt from the digest can bind the bundle to this image.
  if (bundle.content.$case !== 'messageSignature') {
    throw refusal('SIGNATURE_INVALID', `the bundle for ${digest} is a ${bundle.content.$case}, not a message signature over the image digest`, digest);
  }
  return bundle;
}

/**
 * The signature itself is checked over the rebuilt payload; this also holds the bundle's
 * `messageDigest` to it, because a log entry is matched against that field: a bundle whose entry
 * recorded another payload's hash must not pass on the strength of that entry.
 */
function verifyCoversPayload(bundle: Bundle, payload: Buffer, digest: string): void {
  if (bundle.content.$case !== 'messageSignature') return;
  const { messageDigest } = bundle.content.messageSignature;
  const expected = createHash('sha256').update(payload).digest();
  if (messageDigest.algorithm !== HashAlgorithm.SHA2_256 || !expected.equals(Buffer.from(messageDigest.digest))) {
    throw refusal('SIGNATURE_INVALID', `the bundle does not sign the payload for ${digest}`, digest);
  }
}

function verifyRequirements(bundle: Bundle, policy: TrustPolicy, digest: string): void {
  const material = bundle.verificationMaterial;
  if (policy.requireTransparencyLog && material.tlogEntries.length === 0) {
    throw refusal('SIGNATURE_TLOG_MISSING', `the policy requires a transparency-log entry and the bundle for ${digest} has none`, digest);
  }
  const timestamps = material.timestampVerificationData?.rfc3161Timestamps ?? [];
  if (policy.requireTimestamp && timestamps.length === 0) {
    throw refusal('SIGNATURE_TIMESTAMP_MISSING', `the policy requires a signed timestamp and the bundle for ${digest} has none`, digest);
  }
}

function verifyKeySignature(bundle: Bundle, payload: Buffer, hint: string, input: VerifyImageInput): VerifiedSigner {
  const digest = input.manifestDigest;
  // The hint only selects which trusted key to check with; it is never trusted to say who signed.
  const match = findTrustedKey(input.policy.keys, hint);
  if (match === undefined) throw refusal('SIGNATURE_UNTRUSTED', `the bundle for ${digest} is signed by key ${hint}, which the policy does not trust`, digest);
  const finder: KeyFinderFunc = () => ({ publicKey: match.publicKey, validFor: () => true });
  runVerifier(bundle, payload, input, finder, {
    tlogThreshold: input.policy.requireTransparencyLog ? 1 : 0,
    ctlogThreshold: 0,
    timestampThreshold: 0,
  });
  return { kind: 'key', keyId: match.key.id, fingerprint: hint };
}

function verifyKeylessSignature(bundle: Bundle, payload: Buffer, input: VerifyImageInput): VerifiedSigner {
  const digest = input.manifestDigest;
  if (input.policy.keyless.length === 0) throw refusal('SIGNATURE_UNTRUSTED', `the bundle for ${digest} is keyless and the policy trusts no keyless identity`, digest);
  if (input.trustedRoot === undefined) throw refusal('SIGNATURE_UNTRUSTED', `the bundle for ${digest} is keyless and the policy names no trusted root`, digest);
  const material = bundle.verificationMaterial;
  // A certificate is checked as of a verified time; without one the chain would not be checked at all.
  if (material.tlogEntries.length === 0 && (material.timestampVerificationData?.rfc3161Timestamps.length ?? 0) === 0) {
    throw refusal('SIGNATURE_TIMESTAMP_MISSING', `the keyless bundle for ${digest} has neither a log entry nor a timestamp to check its certificate at`, digest);
  }
  const signer = runVerifier(bundle, payload, input, undefined, {
    tlogThreshold: input.policy.requireTransparencyLog ? 1 : 0,
    ctlogThreshold: 1,
    timestampThreshold: 1,
  });
  const issuer = signer.identity?.extensions?.issuer;
  const subject = signer.identity?.subjectAlternativeName;
  if (issuer === undefined || subject === undefined) {
    throw refusal('SIGNATURE_UNTRUSTED', `the certificate for ${digest} names no OIDC issuer or subject`, digest);
  }
  const sameIssuer = input.policy.keyless.filter((identity) => identity.issuer === issuer);
  if (sameIssuer.length === 0) {
    throw refusal('SIGNATURE_ISSUER_MISMATCH', `the bundle for ${digest} was issued by ${issuer}, which the policy does not trust`, digest, undefined, { issuer, subject });
  }
  const allowed = sameIssuer.some((identity) =>
    identity.subject !== undefined ? identity.subject === subject : toSubjectMatcher(identity.subjectPattern ?? '').test(subject),
  );
  if (!allowed) {
    throw refusal('SIGNATURE_IDENTITY_MISMATCH', `the bundle for ${digest} was signed by ${subject}, which the policy does not allow for ${issuer}`, digest, undefined, { issuer, subject });
  }
  return { kind: 'keyless', subject, issuer };
}

function runVerifier(
  bundle: Bundle,
  payload: Buffer,
  input: VerifyImageInput,
  finder: KeyFinderFunc | undefined,
  thresholds: { tlogThreshold: number; ctlogThreshold: number; timestampThreshold: number },
): ReturnType<SigstoreVerify.Verifier['verify']> {
  const material = toTrustMaterialFor(input.trustedRoot, finder);
  try {
    return new Verifier(material, thresholds).verify(toSignedEntity(bundle, payload));
  } catch (error) {
    throw translateVerifyError(error, input.manifestDigest);
  }
}

/** @sigstore/verify's codes, mapped to ours. Anything unexpected is a refusal, never a pass. */
function translateVerifyError(error: unknown, digest: string): CarapaceError {
  if (error instanceof CarapaceError) return error;
  const reason = messageOf(error);
  if (error instanceof PolicyError) return refusal('SIGNATURE_IDENTITY_MISMATCH', `signer not allowed for ${digest}: ${reason}`, digest, error);
  if (!(error instanceof VerificationError)) return refusal('SIGNATURE_INVALID', `the signature for ${digest} does not verify: ${reason}`, digest, error);
  const code: ErrorCode = (() => {
    switch (error.code) {
      case 'CERTIFICATE_ERROR':
      case 'PUBLIC_KEY_ERROR':
        return 'SIGNATURE_UNTRUSTED';
      case 'TLOG_ERROR':
        return 'SIGNATURE_TLOG_MISSING';
      case 'TIMESTAMP_ERROR':
        return /expected \d+ timestamps/.test(reason) ? 'SIGNATURE_TIMESTAMP_MISSING' : 'SIGNATURE_INVALID';
      default:
        return 'SIGNATURE_INVALID';
    }
  })();
  return refusal(code, `the signature for ${digest} does not verify: ${reason}`, digest, error, { sigstoreCode: error.code });
}

function findTrustedKey(keys: readonly TrustedKey[], hint: string) {
  for (const key of keys) {
    const publicKey = createPublicKey(key.publicKeyPem);
    if (publicKeyFingerprint(publicKey) === hint) return { key, publicKey };
  }
  return undefined;
}

function refusal(code: ErrorCode, message: string, digest: string, cause?: unknown, extra: Record<string, unknown> = {}): CarapaceError {
  return new CarapaceError(code, message, { cause, details: { digest, ...extra } });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
