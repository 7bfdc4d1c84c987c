import { mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addRevocation, EMPTY_REVOCATION_LIST } from './revocation-list.js';
import { signImageDigest } from './sign-image.js';
import { generateSigningKey } from './signing-key.js';
import { EMPTY_TRUST_POLICY, type TrustPolicy } from './trust-policy.js';
import { VerificationCache, verifyImageSignatureCached } from './verification-cache.js';

const DIGEST = `sha256:${'5'.repeat(64)}`;
const key = generateSigningKey();
const policy: TrustPolicy = { ...EMPTY_TRUST_POLICY, keys: [{ id: 'local', publicKeyPem: key.publicKeyPem }] };
const bundleBytes = `${JSON.stringify(await signImageDigest(DIGEST, key))}\n`;
const input = { manifestDigest: DIGEST, bundleBytes, policy, revocations: EMPTY_REVOCATION_LIST };

describe('VerificationCache', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'carapace-cache-'));
    file = join(dir, 'verified.json');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('remembers a pass on disk (0600), so a new process finds it without verifying', async () => {
    const first = await VerificationCache.open(file);
    const result = await verifyImageSignatureCached(first, input);
    expect(result.signer).toMatchObject({ kind: 'key', keyId: 'local' });
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const second = await VerificationCache.open(file);
    expect(second.lookup(VerificationCache.keyFor(input), DIGEST)).toEqual(result);
  });

  it('misses when the bundle bytes, the policy, the revocations or the trusted root change', async () => {
    const cache = await VerificationCache.open(file);
    await verifyImageSignatureCached(cache, input);
    const base = VerificationCache.keyFor(input);
    const variants = [
      { ...input, bundleBytes: bundleBytes.trimEnd() },
      { ...input, policy: { ...policy, requireTimestamp: true } },
      { ...input, revocations: addRevocation(EMPTY_REVOCATION_LIST, { kind: 'key', value: 'other', at: new Date() }) },
      { ...input, trustedRootBytes: '{}' },
      { ...input, manifestDigest: `sha256:${'6'.repeat(64)}` },
    ];
    for (const variant of variants) expect(VerificationCache.keyFor(variant)).not.toBe(base);
  });

  it('a revocation added after a cached pass is enforced: the key changes and the verifier refuses', async () => {
    const cache = await VerificationCache.open(file);
    await verifyImageSignatureCached(cache, input);
    const revocations = addRevocation(EMPTY_REVOCATION_LIST, { kind: 'digest', value: DIGEST, at: new Date() });
    await expect(verifyImageSignatureCached(cache, { ...input, revocations })).rejects.toMatchObject({ code: 'TRUST_REVOKED' });
    const policyWithoutKey = { ...policy, keys: [] };
    await expect(verifyImageSignatureCached(cache, { ...input, policy: policyWithoutKey })).rejects.toMatchObject({ code: 'SIGNATURE_UNTRUSTED' });
  });

  it('stores no refusal: a failed verification leaves the file as it was', async () => {
    const cache = await VerificationCache.open(file);
    await expect(verifyImageSignatureCached(cache, { ...input, bundleBytes: 'not json' })).rejects.toMatchObject({ code: 'SIGNATURE_INVALID' });
    await expect(verifyImageSignatureCached(cache, { ...input, bundleBytes: undefined })).rejects.toMatchObject({ code: 'SIGNATURE_MISSING' });
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(cache.size).toBe(0);
  });

  it('treats a corrupt or foreign cache file as empty, and rewrites it whole on the next pass', async () => {
    for (const junk of ['{', '[]', JSON.stringify({ version: 1, entries: [{ key: 'x', result: {} }] })]) {
      await writeFile(file, junk, { mode: 0o600 });
      const cache = await VerificationCache.open(file);
      expect(cache.size).toBe(0);
      await verifyImageSignatureCached(cache, input);
      expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ version: 1, entries: [{ key: VerificationCache.keyFor(input) }] });
    }
  });

  it('an entry planted for another digest under the right key is not returned', async () => {
    const cache = await VerificationCache.open(file);
    await cache.remember(VerificationCache.keyFor(input), { digest: `sha256:${'7'.repeat(64)}`, signer: { kind: 'key', keyId: 'x', fingerprint: 'y' } });
    expect(cache.lookup(VerificationCache.keyFor(input), DIGEST)).toBeUndefined();
  });

  it('refuses a symlinked cache file', async () => {
    await writeFile(join(dir, 'elsewhere.json'), '{}', { mode: 0o600 });
    await symlink(join(dir, 'elsewhere.json'), file);
    await expect(VerificationCache.open(file)).rejects.toMatchObject({ code: 'HOME_INSECURE' });
  });
});

describe('VerificationCache writers', () => {
  it('parallel passes through separate cache objects all land in the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'carapace-cache-'));
    try {
      const file = join(dir, 'verified.json');
      const digests = Array.from({ length: 6 }, (_, i) => `sha256:${String(i).repeat(64)}`);
      const bundles = await Promise.all(digests.map(async (digest) => JSON.stringify(await signImageDigest(digest, key))));
      await Promise.all(
        digests.map(async (digest, i) => verifyImageSignatureCached(await VerificationCache.open(file), { ...input, manifestDigest: digest, bundleBytes: bundles[i] })),
      );
      const reopened = await VerificationCache.open(file);
      expect(reopened.size).toBe(digests.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
