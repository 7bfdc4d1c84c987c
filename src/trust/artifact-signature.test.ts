import { createHash, createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CarapaceError } from '../errors.js';
import { signArtifact, verifyArtifactSignature } from './artifact-signature.js';
import { EMPTY_REVOCATION_LIST, type RevocationList } from './revocation-list.js';
import { generateSigningKey } from './signing-key.js';
import { EMPTY_TRUST_POLICY, type TrustPolicy } from './trust-policy.js';

const releaseKey = generateSigningKey();
const otherKey = generateSigningKey();
const policy: TrustPolicy = { ...EMPTY_TRUST_POLICY, keys: [{ id: 'release', publicKeyPem: releaseKey.publicKeyPem }] };
const artifact = Buffer.from('carapace-0.1.0-linux-x64-node20.tar.gz bytes\n');
const sha256 = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof CarapaceError) return error.code;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('signArtifact and verifyArtifactSignature', () => {
  it('signs a file with a key pair and verifies it against the pinned key, naming the signer', async () => {
    const bundle = await signArtifact(artifact, releaseKey);
    expect(bundle.verificationMaterial.publicKey?.hint).toBe(releaseKey.keyId);
    expect(bundle.verificationMaterial.tlogEntries ?? []).toEqual([]);
    const verified = verifyArtifactSignature({ artifact, bundle, policy, revocations: EMPTY_REVOCATION_LIST });
    expect(verified).toEqual({ digest: sha256(artifact), signer: { kind: 'key', keyId: 'release', fingerprint: releaseKey.keyId } });
  });

  it('is a plain ECDSA P-256 signature over the file: node:crypto alone verifies it (what install.sh relies on)', async () => {
    const bundle = await signArtifact(artifact, releaseKey);
    const signature = Buffer.from(bundle.messageSignature!.signature, 'base64');
    expect(verify('sha256', artifact, createPublicKey(releaseKey.publicKeyPem), signature)).toBe(true);
    expect(Buffer.from(bundle.messageSignature!.messageDigest!.digest, 'base64').toString('hex')).toBe(sha256(artifact).slice(7));
  });

  it('refuses other bytes, a flipped signature bit and a bundle that does not parse with SIGNATURE_INVALID', async () => {
    const bundle = await signArtifact(artifact, releaseKey);
    const tampered = Buffer.from(artifact);
    tampered.writeUInt8(tampered.readUInt8(0) ^ 1, 0);
    expect(codeOf(() => verifyArtifactSignature({ artifact: tampered, bundle, policy, revocations: EMPTY_REVOCATION_LIST }))).toBe('SIGNATURE_INVALID');
    const signature = Buffer.from(bundle.messageSignature!.signature, 'base64');
    signature.writeUInt8(signature.readUInt8(signature.length - 1) ^ 1, signature.length - 1);
    const flipped = { ...bundle, messageSignature: { ...bundle.messageSignature!, signature: signature.toString('base64') } };
    expect(codeOf(() => verifyArtifactSignature({ artifact, bundle: flipped, policy, revocations: EMPTY_REVOCATION_LIST }))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyArtifactSignature({ artifact, bundle: undefined, policy, revocations: EMPTY_REVOCATION_LIST }))).toBe('SIGNATURE_MISSING');
    for (const junk of ['bundle', {}, { ...bundle, mediaType: 'text/plain' }]) {
      expect(codeOf(() => verifyArtifactSignature({ artifact, bundle: junk, policy, revocations: EMPTY_REVOCATION_LIST }))).toBe('SIGNATURE_INVALID');
    }
  });

  it('refuses a signature by a key the policy does not list, even with a forged hint', async () => {
    const bundle = await signArtifact(artifact, otherKey);
    expect(codeOf(() => verifyArtifactSignature({ artifact, bundle, policy, revocations: EMPTY_REVOCATION_LIST }))).toBe('SIGNATURE_UNTRUSTED');
    // The other key's signature under the release key's hint: the hint picks the key, the check fails.
    const forged = { ...bundle, verificationMaterial: { ...bundle.verificationMaterial, publicKey: { hint: releaseKey.keyId } } };
    expect(codeOf(() => verifyArtifactSignature({ artifact, bundle: forged, policy, revocations: EMPTY_REVOCATION_LIST }))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyArtifactSignature({ artifact, bundle, policy: EMPTY_TRUST_POLICY, revocations: EMPTY_REVOCATION_LIST }))).toBe(
      'SIGNATURE_UNTRUSTED',
    );
  });

  it('refuses a revoked key (by name or fingerprint) and a revoked artifact digest with TRUST_REVOKED', async () => {
    const bundle = await signArtifact(artifact, releaseKey);
    const revoked = (list: Partial<RevocationList>): RevocationList => ({ ...EMPTY_REVOCATION_LIST, ...list });
    for (const revocations of [revoked({ keys: ['release'] }), revoked({ keys: [releaseKey.keyId] }), revoked({ digests: [sha256(artifact)] })]) {
      expect(codeOf(() => verifyArtifactSignature({ artifact, bundle, policy, revocations }))).toBe('TRUST_REVOKED');
    }
  });

  it('refuses when the policy requires a log entry or a timestamp, which key-pair bundles do not carry', async () => {
    const bundle = await signArtifact(artifact, releaseKey);
    const strict = (change: Partial<TrustPolicy>): TrustPolicy => ({ ...policy, ...change });
    expect(codeOf(() => verifyArtifactSignature({ artifact, bundle, policy: strict({ requireTransparencyLog: true }), revocations: EMPTY_REVOCATION_LIST }))).toBe(
      'SIGNATURE_TLOG_MISSING',
    );
    expect(codeOf(() => verifyArtifactSignature({ artifact, bundle, policy: strict({ requireTimestamp: true }), revocations: EMPTY_REVOCATION_LIST }))).toBe(
      'SIGNATURE_TIMESTAMP_MISSING',
    );
  });
});
