import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockSigstore, type MockSigstore } from '../../test/support/sigstore-mock.js';
import type { ErrorCode } from '../errors.js';
import { addRevocation, EMPTY_REVOCATION_LIST } from './revocation-list.js';
import { signImageDigestKeyless, type SerializedBundle } from './sign-image.js';
import { generateSigningKey } from './signing-key.js';
import { EMPTY_TRUST_POLICY, type TrustPolicy } from './trust-policy.js';
import { verifyImageSignature, type VerifyImageInput } from './verify-image.js';

// Keyless signatures made in this run against @sigstore/mock's Fulcio, CT log, Rekor and TSA (real
// keys and certificates, served in-process; no network), verified against a TrustedRoot of them.
const DIGEST = `sha256:${'3'.repeat(64)}`;
const ISSUER = 'https://token.actions.githubusercontent.com';
const SUBJECT = 'https://github.com/acme/notes-plugin/.github/workflows/release.yml@refs/heads/main';

let sigstore: MockSigstore;
let bundle: SerializedBundle;
let bundleWithTimestamp: SerializedBundle;

const policy: TrustPolicy = { ...EMPTY_TRUST_POLICY, keyless: [{ issuer: ISSUER, subject: SUBJECT }] };

async function signAs(mock: MockSigstore, subject: string, issuer: string, withTimestamp = false): Promise<SerializedBundle> {
  return signImageDigestKeyless(DIGEST, {
    identityToken: mock.identityToken(subject, issuer),
    fulcioURL: mock.fulcioURL,
    rekorURL: mock.rekorURL,
    ...(withTimestamp ? { tsaURL: mock.tsaURL } : {}),
  });
}

beforeAll(async () => {
  sigstore = await startMockSigstore();
  bundle = await signAs(sigstore, SUBJECT, ISSUER);
  bundleWithTimestamp = await signAs(sigstore, SUBJECT, ISSUER, true);
});

afterAll(async () => {
  await sigstore[Symbol.asyncDispose]();
});

function verify(overrides: Partial<VerifyImageInput> = {}) {
  return verifyImageSignature({ manifestDigest: DIGEST, bundle, policy, revocations: EMPTY_REVOCATION_LIST, trustedRoot: sigstore.trustedRoot, ...overrides });
}

function codeOf(run: () => unknown): ErrorCode | undefined {
  try {
    run();
  } catch (error) {
    return (error as { code?: ErrorCode }).code;
  }
  return undefined;
}

function tampered(source: SerializedBundle, edit: (copy: SerializedBundle & Record<string, any>) => void): unknown {
  const copy = structuredClone(source) as SerializedBundle & Record<string, any>;
  edit(copy);
  return copy;
}

function flipByte(base64: string, fromEnd: number): string {
  const bytes = Buffer.from(base64, 'base64');
  const at = bytes.length - fromEnd;
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
  return bytes.toString('base64');
}

describe('keyless signatures', () => {
  it('pass for the exact identity, naming subject and issuer', () => {
    expect(bundle.verificationMaterial.x509CertificateChain).toBeDefined();
    expect(bundle.verificationMaterial.tlogEntries).toHaveLength(1);
    expect(verify()).toEqual({ digest: DIGEST, signer: { kind: 'keyless', subject: SUBJECT, issuer: ISSUER } });
  });

  it('pass for a matching subjectPattern, anchored at both ends', () => {
    const pattern = (subjectPattern: string): TrustPolicy => ({ ...EMPTY_TRUST_POLICY, keyless: [{ issuer: ISSUER, subjectPattern }] });
    expect(verify({ policy: pattern('https://github\\.com/acme/[^/]+/\\.github/workflows/release\\.yml@refs/heads/main') }).signer).toMatchObject({ subject: SUBJECT });
    // Unanchored, each would match; anchored, neither does.
    expect(codeOf(() => verify({ policy: pattern('https://github\\.com/acme') }))).toBe('SIGNATURE_IDENTITY_MISMATCH');
    expect(codeOf(() => verify({ policy: pattern('refs/heads/main') }))).toBe('SIGNATURE_IDENTITY_MISMATCH');
  });

  it('refuse another subject at a trusted issuer with SIGNATURE_IDENTITY_MISMATCH', async () => {
    const other = await signAs(sigstore, 'https://github.com/mallory/notes-plugin/.github/workflows/release.yml@refs/heads/main', ISSUER);
    expect(codeOf(() => verify({ bundle: other }))).toBe('SIGNATURE_IDENTITY_MISMATCH');
  });

  it('refuse the right subject from another issuer with SIGNATURE_ISSUER_MISMATCH', async () => {
    const other = await signAs(sigstore, SUBJECT, 'https://issuer.mallory.test');
    expect(codeOf(() => verify({ bundle: other }))).toBe('SIGNATURE_ISSUER_MISMATCH');
  });

  it('refuse another digest and a flipped signature bit with SIGNATURE_INVALID', () => {
    expect(codeOf(() => verify({ manifestDigest: `sha256:${'4'.repeat(64)}` }))).toBe('SIGNATURE_INVALID');
    const flipped = tampered(bundle, (copy) => {
      copy.messageSignature!.signature = flipByte(copy.messageSignature!.signature, 5);
    });
    expect(codeOf(() => verify({ bundle: flipped }))).toBe('SIGNATURE_INVALID');
  });

  it('refuse a stripped log entry: SIGNATURE_TLOG_MISSING when required, else no verified time to check the certificate at', () => {
    const stripped = tampered(bundle, (copy) => {
      copy.verificationMaterial.tlogEntries = [];
    });
    expect(codeOf(() => verify({ bundle: stripped, policy: { ...policy, requireTransparencyLog: true } }))).toBe('SIGNATURE_TLOG_MISSING');
    expect(codeOf(() => verify({ bundle: stripped }))).toBe('SIGNATURE_TIMESTAMP_MISSING');
  });

  it('refuse a log entry whose time or body was edited, and a bad checkpoint, with SIGNATURE_INVALID', () => {
    const retimed = (seconds: number) =>
      tampered(bundle, (copy) => {
        const entry = copy.verificationMaterial.tlogEntries[0]!;
        entry.integratedTime = String(Number(entry.integratedTime) + seconds);
      });
    // Within the certificate's 10 minutes, the entry's signed timestamp no longer verifies...
    expect(codeOf(() => verify({ bundle: retimed(60) }))).toBe('SIGNATURE_INVALID');
    // ...and before the certificate existed, the certificate check refuses it first.
    expect(codeOf(() => verify({ bundle: retimed(-60) }))).toBe('SIGNATURE_UNTRUSTED');
    const rebodied = tampered(bundle, (copy) => {
      const entry = copy.verificationMaterial.tlogEntries[0]!;
      const body = JSON.parse(Buffer.from(entry.canonicalizedBody, 'base64').toString('utf8'));
      body.spec.data.hash.value = '0'.repeat(64);
      entry.canonicalizedBody = Buffer.from(JSON.stringify(body)).toString('base64');
    });
    expect(codeOf(() => verify({ bundle: rebodied }))).toBe('SIGNATURE_INVALID');
    // Without its signed timestamp the entry rests on its checkpoint (the TSA gives the time).
    const badCheckpoint = tampered(bundleWithTimestamp, (copy) => {
      const entry = copy.verificationMaterial.tlogEntries[0]!;
      entry.inclusionPromise = undefined;
      entry.inclusionProof!.checkpoint.envelope = entry.inclusionProof!.checkpoint.envelope.replace(/\n\d+\n/, '\n2\n');
    });
    expect(codeOf(() => verify({ bundle: badCheckpoint, policy: { ...policy, requireTransparencyLog: true } }))).toBe('SIGNATURE_INVALID');
  });

  it('pass with a TSA timestamp when the policy requires one, and refuse without one with SIGNATURE_TIMESTAMP_MISSING', () => {
    const strict: TrustPolicy = { ...policy, requireTransparencyLog: true, requireTimestamp: true };
    expect(bundleWithTimestamp.verificationMaterial.timestampVerificationData?.rfc3161Timestamps).toHaveLength(1);
    expect(verify({ bundle: bundleWithTimestamp, policy: strict }).signer).toMatchObject({ kind: 'keyless', subject: SUBJECT });
    expect(codeOf(() => verify({ policy: strict }))).toBe('SIGNATURE_TIMESTAMP_MISSING');
  });

  it('refuse a bad timestamp with SIGNATURE_INVALID', () => {
    const bad = tampered(bundleWithTimestamp, (copy) => {
      const stamp = copy.verificationMaterial.timestampVerificationData!.rfc3161Timestamps[0]!;
      stamp.signedTimestamp = flipByte(stamp.signedTimestamp, 3);
    });
    expect(codeOf(() => verify({ bundle: bad, policy: { ...policy, requireTimestamp: true } }))).toBe('SIGNATURE_INVALID');
  });

  it('refuse a certificate from a CA outside the trusted root with SIGNATURE_UNTRUSTED', async () => {
    await using rogue = await startMockSigstore();
    const foreign = await signAs(rogue, SUBJECT, ISSUER);
    expect(codeOf(() => verify({ bundle: foreign }))).toBe('SIGNATURE_UNTRUSTED');
    // ...and passes against its own root, so the refusal above is about trust, not a broken bundle.
    expect(verify({ bundle: foreign, trustedRoot: rogue.trustedRoot }).signer).toMatchObject({ subject: SUBJECT });
  });

  it('refuse a certificate that had expired when the log saw the signature with SIGNATURE_UNTRUSTED', async () => {
    await using stale = await startMockSigstore({ caClock: new Date(Date.now() - 3600 * 1000) });
    const expired = await signAs(stale, SUBJECT, ISSUER);
    expect(codeOf(() => verify({ bundle: expired, trustedRoot: stale.trustedRoot }))).toBe('SIGNATURE_UNTRUSTED');
  });

  it('refuse keyless bundles when the policy trusts no identity or names no trusted root', () => {
    const keysOnly: TrustPolicy = { ...EMPTY_TRUST_POLICY, keys: [{ id: 'k', publicKeyPem: generateSigningKey().publicKeyPem }] };
    expect(codeOf(() => verify({ policy: keysOnly }))).toBe('SIGNATURE_UNTRUSTED');
    expect(codeOf(() => verifyImageSignature({ manifestDigest: DIGEST, bundle, policy, revocations: EMPTY_REVOCATION_LIST }))).toBe('SIGNATURE_UNTRUSTED');
  });

  it('refuse a revoked identity with TRUST_REVOKED', () => {
    const revocations = addRevocation(EMPTY_REVOCATION_LIST, { kind: 'identity', value: SUBJECT, at: new Date() });
    expect(codeOf(() => verify({ revocations }))).toBe('TRUST_REVOKED');
  });

  it('refuse a trusted root that does not parse with TRUST_POLICY_INVALID', () => {
    expect(codeOf(() => verify({ trustedRoot: { tlogs: [{ publicKey: { rawBytes: 'AAAA' } }] } }))).toBe('TRUST_POLICY_INVALID');
    expect(codeOf(() => verify({ trustedRoot: 'root' }))).toBe('TRUST_POLICY_INVALID');
  });

  it('signing fails with SIGNING_FAILED when Fulcio cannot be reached, and nothing is returned', async () => {
    // Real network is disabled while the mock is open, so an unknown host is a refused connection.
    await expect(
      signImageDigestKeyless(DIGEST, { identityToken: sigstore.identityToken(SUBJECT, ISSUER), fulcioURL: 'https://fulcio.unreachable.test', rekorURL: sigstore.rekorURL }),
    ).rejects.toMatchObject({ code: 'SIGNING_FAILED' });
  });
});
