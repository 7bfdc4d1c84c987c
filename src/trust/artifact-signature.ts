import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { bundleFromJSON, bundleToJSON, type Bundle, type SerializedBundle } from '@sigstore/bundle';
import { MessageSignatureBundleBuilder, type Signer } from '@sigstore/sign';
import { toSignedEntity, Verifier, type KeyFinderFunc } from '@sigstore/verify';
import { CarapaceError } from '../errors.js';
import { publicKeyFingerprint } from './key-fingerprint.js';
import { verifyNotRevoked, type RevocationList } from './revocation-list.js';
import type { SigningKey } from './signing-key.js';
import type { TrustPolicy } from './trust-policy.js';
import { toTrustMaterialFor } from './trusted-root.js';

/**
 * Signatures over whole files (release tarballs, SHA256SUMS, release manifests), as opposed to
 * image signatures, which cover a payload rebuilt from a manifest digest. The bundle is a plain
 * Sigstore message-signature bundle: ECDSA over SHA-256 of the file, `publicKey.hint` = the key's
 * fingerprint, no certificate, no log entry, no timestamp, so it verifies offline and with any
 * Sigstore verifier given the public key (and, in install.sh, with node:crypto alone).
 */

/** Signs `artifact` with a key pair; nothing leaves the machine. */
export async function signArtifact(artifact: Uint8Array, key: SigningKey): Promise<SerializedBundle> {
  const privateKey = createPrivateKey(key.privateKeyPem);
  const signer: Signer = {
    async sign(data) {
      return { signature: sign('sha256', data, privateKey), key: { $case: 'publicKey', publicKey: key.publicKeyPem, hint: key.keyId } };
    },
  };
  try {
    return bundleToJSON(await new MessageSignatureBundleBuilder({ signer, witnesses: [] }).create({ data: Buffer.from(artifact) }));
  } catch (error) {
    throw new CarapaceError('SIGNING_FAILED', `signing failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

export interface ArtifactSignatureInput {
  /** The bytes about to be trusted: the signature is checked over these, never over the bundle's own digest. */
  readonly artifact: Uint8Array;
  /** The parsed bundle JSON (untrusted). */
  readonly bundle: unknown;
  readonly policy: TrustPolicy;
  readonly revocations: RevocationList;
}

export interface VerifiedArtifact {
  /** `sha256:<hex>` of the artifact. */
  readonly digest: string;
  readonly signer: { readonly kind: 'key'; readonly keyId: string; readonly fingerprint: string };
}

/**
 * Verifies that `bundle` is a signature over `artifact` by one of the policy's keys, and that
 * neither the key nor the artifact's digest is revoked. Throws SIGNATURE_MISSING for no bundle;
 * SIGNATURE_INVALID for a bundle that
 * does not parse, is not a message signature, or does not match the bytes; SIGNATURE_UNTRUSTED for
 * a key the policy does not list or a certificate (artifacts are verified against pinned keys
 * only); SIGNATURE_TLOG_MISSING / SIGNATURE_TIMESTAMP_MISSING when the policy requires what a
 * key-pair bundle cannot carry; TRUST_REVOKED.
 */
export function verifyArtifactSignature(input: ArtifactSignatureInput): VerifiedArtifact {
  const artifact = Buffer.from(input.artifact);
  const digest = `sha256:${createHash('sha256').update(artifact).digest('hex')}`;
  const bundle = parseBundle(input.bundle);
  if (bundle.content.$case !== 'messageSignature') {
    throw new CarapaceError('SIGNATURE_INVALID', 'the bundle is not a message signature over a file', { details: { digest } });
  }
  const material = bundle.verificationMaterial.content;
  if (material.$case !== 'publicKey') {
    throw new CarapaceError('SIGNATURE_UNTRUSTED', 'the bundle carries a certificate; release artifacts are verified against pinned keys only', {
      details: { digest },
    });
  }
  const hint = material.publicKey.hint;
  // The hint only selects a candidate; the signature check below is what proves the key signed.
  const trusted = input.policy.keys.find((key) => publicKeyFingerprint(key.publicKeyPem) === hint);
  if (trusted === undefined) {
    throw new CarapaceError('SIGNATURE_UNTRUSTED', `signed by key ${JSON.stringify(hint.slice(0, 80))}, which the policy does not list`, {
      details: { digest, keyHint: hint.slice(0, 80) },
    });
  }
  if (input.policy.requireTransparencyLog) {
    throw new CarapaceError('SIGNATURE_TLOG_MISSING', 'the policy requires a transparency-log entry; key-pair artifact signatures carry none', { details: { digest } });
  }
  if (input.policy.requireTimestamp) {
    throw new CarapaceError('SIGNATURE_TIMESTAMP_MISSING', 'the policy requires a signed timestamp; key-pair artifact signatures carry none', { details: { digest } });
  }

  const findKey: KeyFinderFunc = () => ({ publicKey: createPublicKey(trusted.publicKeyPem), validFor: () => true });
  const verifier = new Verifier(toTrustMaterialFor(undefined, findKey), { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  try {
    verifier.verify(toSignedEntity(bundle, artifact));
  } catch (error) {
    throw new CarapaceError('SIGNATURE_INVALID', `the signature does not match the file (${digest})`, { cause: error, details: { digest } });
  }
  verifyNotRevoked(input.revocations, { digest, keyId: trusted.id, keyFingerprint: hint });
  return { digest, signer: { kind: 'key', keyId: trusted.id, fingerprint: hint } };
}

function parseBundle(json: unknown): Bundle {
  if (json === undefined || json === null) throw new CarapaceError('SIGNATURE_MISSING', 'no signature bundle');
  try {
    return bundleFromJSON(json);
  } catch (error) {
    throw new CarapaceError('SIGNATURE_INVALID', `not a Sigstore bundle: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
