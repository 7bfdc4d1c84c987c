import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../errors.js';
import { addRevocation, EMPTY_REVOCATION_LIST, type RevocationList } from './revocation-list.js';
import { signImageDigest, type SerializedBundle } from './sign-image.js';
import { toSignedPayload } from './signed-payload.js';
import { generateSigningKey } from './signing-key.js';
import { EMPTY_TRUST_POLICY, type TrustPolicy } from './trust-policy.js';
import { verifyImageSignature, type VerifyImageInput } from './verify-image.js';

// Key-pair signatures with real ECDSA keys made here; keyless ones are in verify-image.keyless.test.ts.
const DIGEST = `sha256:${'1'.repeat(64)}`;
const OTHER_DIGEST = `sha256:${'2'.repeat(64)}`;
const key = generateSigningKey();
const stranger = generateSigningKey();
const policy: TrustPolicy = { ...EMPTY_TRUST_POLICY, keys: [{ id: 'release', publicKeyPem: key.publicKeyPem }] };
const bundle = await signImageDigest(DIGEST, key);

function verify(overrides: Partial<VerifyImageInput> = {}) {
  return verifyImageSignature({ manifestDigest: DIGEST, bundle, policy, revocations: EMPTY_REVOCATION_LIST, ...overrides });
}

function codeOf(run: () => unknown): ErrorCode | undefined {
  try {
    run();
  } catch (error) {
    return (error as { code?: ErrorCode }).code;
  }
  return undefined;
}

/** A deep copy of the bundle, changed by `edit`. */
function tampered(edit: (copy: SerializedBundle & Record<string, any>) => void): unknown {
  const copy = structuredClone(bundle) as SerializedBundle & Record<string, any>;
  edit(copy);
  return copy;
}

function flipBit(base64: string): string {
  const bytes = Buffer.from(base64, 'base64');
  bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 0x01;
  return bytes.toString('base64');
}

const revoked = (kind: 'key' | 'identity' | 'digest', value: string): RevocationList =>
  addRevocation(EMPTY_REVOCATION_LIST, { kind, value, reason: 'test', at: new Date(0) });

describe('toSignedPayload', () => {
  it('is cosign simple signing for the digest, byte for byte the same every time', () => {
    expect(toSignedPayload(DIGEST).toString('utf8')).toBe(
      `{"critical":{"identity":{"docker-reference":""},"image":{"docker-manifest-digest":"${DIGEST}"},"type":"cosign container image signature"},"optional":null}`,
    );
  });

  it('refuses anything but sha256:<64 lowercase hex>', () => {
    for (const bad of ['sha256:abc', `sha256:${'A'.repeat(64)}`, `sha512:${'1'.repeat(64)}`, `${DIGEST}\n`, '']) {
      expect(codeOf(() => toSignedPayload(bad))).toBe('IMAGE_REFERENCE_INVALID');
    }
  });
});

describe('verifyImageSignature with a key pair', () => {
  it('passes a bundle signed by a trusted key and names the key by its policy id and fingerprint', () => {
    expect(verify()).toEqual({ digest: DIGEST, signer: { kind: 'key', keyId: 'release', fingerprint: key.keyId } });
    expect(bundle.verificationMaterial.publicKey?.hint).toBe(key.keyId);
  });

  it('refuses a missing bundle with SIGNATURE_MISSING', () => {
    expect(codeOf(() => verify({ bundle: undefined }))).toBe('SIGNATURE_MISSING');
    expect(codeOf(() => verify({ bundle: null }))).toBe('SIGNATURE_MISSING');
  });

  it('refuses a bundle that does not parse with SIGNATURE_INVALID', () => {
    for (const bad of [{}, [], 'bundle', 42, { mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.2' }]) {
      expect(codeOf(() => verify({ bundle: bad }))).toBe('SIGNATURE_INVALID');
    }
  });

  it('refuses the bundle of another digest with SIGNATURE_INVALID', () => {
    expect(codeOf(() => verify({ manifestDigest: OTHER_DIGEST }))).toBe('SIGNATURE_INVALID');
  });

  it('refuses a flipped bit in the signature with SIGNATURE_INVALID', () => {
    const bad = tampered((copy) => {
      copy.messageSignature!.signature = flipBit(copy.messageSignature!.signature);
    });
    expect(codeOf(() => verify({ bundle: bad }))).toBe('SIGNATURE_INVALID');
  });

  it('refuses a bundle whose messageDigest names another payload, though its signature is right', () => {
    const bad = tampered((copy) => {
      copy.messageSignature!.messageDigest!.digest = createHash('sha256').update(toSignedPayload(OTHER_DIGEST)).digest('base64');
    });
    expect(codeOf(() => verify({ bundle: bad }))).toBe('SIGNATURE_INVALID');
  });

  it('refuses a DSSE envelope, whose payload is its own and not the image digest', () => {
    const dsse = {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { publicKey: { hint: key.keyId }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
      dsseEnvelope: { payload: toSignedPayload(DIGEST).toString('base64'), payloadType: 'application/json', signatures: [{ sig: bundle.messageSignature!.signature, keyid: '' }] },
    };
    expect(codeOf(() => verify({ bundle: dsse }))).toBe('SIGNATURE_INVALID');
  });

  it('refuses a key the policy does not list with SIGNATURE_UNTRUSTED', async () => {
    const foreign = await signImageDigest(DIGEST, stranger);
    expect(codeOf(() => verify({ bundle: foreign }))).toBe('SIGNATURE_UNTRUSTED');
    expect(codeOf(() => verify({ policy: EMPTY_TRUST_POLICY }))).toBe('SIGNATURE_UNTRUSTED');
  });

  it('refuses a foreign signature that claims a trusted key in its hint with SIGNATURE_INVALID', async () => {
    const foreign = await signImageDigest(DIGEST, { ...stranger, keyId: key.keyId });
    expect(codeOf(() => verify({ bundle: foreign }))).toBe('SIGNATURE_INVALID');
  });

  it('refuses a revoked digest, key id or key fingerprint with TRUST_REVOKED', () => {
    expect(codeOf(() => verify({ revocations: revoked('digest', DIGEST) }))).toBe('TRUST_REVOKED');
    expect(codeOf(() => verify({ revocations: revoked('key', 'release') }))).toBe('TRUST_REVOKED');
    expect(codeOf(() => verify({ revocations: revoked('key', key.keyId) }))).toBe('TRUST_REVOKED');
    // A revoked digest is refused even without a bundle: nothing about it is looked at.
    expect(codeOf(() => verify({ bundle: undefined, revocations: revoked('digest', DIGEST) }))).toBe('TRUST_REVOKED');
    expect(verify({ revocations: revoked('digest', OTHER_DIGEST) }).digest).toBe(DIGEST);
  });

  it('refuses a bundle without the log entry or timestamp the policy requires', () => {
    expect(codeOf(() => verify({ policy: { ...policy, requireTransparencyLog: true } }))).toBe('SIGNATURE_TLOG_MISSING');
    expect(codeOf(() => verify({ policy: { ...policy, requireTimestamp: true } }))).toBe('SIGNATURE_TIMESTAMP_MISSING');
  });

  it('refuses a log entry it cannot check (no trusted root) rather than ignoring it', () => {
    const withEntry = tampered((copy) => {
      copy.verificationMaterial.tlogEntries = [
        {
          logIndex: '1',
          logId: { keyId: Buffer.alloc(32).toString('base64') },
          kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
          integratedTime: '1700000000',
          inclusionPromise: { signedEntryTimestamp: Buffer.alloc(70).toString('base64') },
          inclusionProof: undefined,
          canonicalizedBody: Buffer.from('{}').toString('base64'),
        },
      ];
    });
    expect(codeOf(() => verify({ bundle: withEntry }))).toBe('SIGNATURE_INVALID');
  });

  it('refuses a malformed digest before looking at the bundle', () => {
    expect(codeOf(() => verify({ manifestDigest: 'latest' }))).toBe('IMAGE_REFERENCE_INVALID');
  });
});
