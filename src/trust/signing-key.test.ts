import { createPublicKey } from 'node:crypto';
import { chmod, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publicKeyFingerprint } from './key-fingerprint.js';
import { generateSigningKey, loadOrCreateLocalSigningKey, parseSigningKey } from './signing-key.js';

describe('generateSigningKey', () => {
  it('makes a P-256 pair whose id is the fingerprint of its public key', () => {
    const key = generateSigningKey();
    const publicKey = createPublicKey(key.publicKeyPem);
    expect(publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(key.keyId).toBe(publicKeyFingerprint(key.publicKeyPem));
    expect(key.keyId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(parseSigningKey(key.privateKeyPem, 'k.pem')).toEqual(key);
  });

  it('refuses a key that is not a private key', () => {
    expect(() => parseSigningKey(generateSigningKey().publicKeyPem, 'k.pem')).toThrow(expect.objectContaining({ code: 'TRUST_POLICY_INVALID' }));
  });
});

describe('loadOrCreateLocalSigningKey', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'carapace-key-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the key 0600 once and returns the same key afterwards', async () => {
    const file = join(dir, 'local-signing-key.pem');
    const created = await loadOrCreateLocalSigningKey(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await loadOrCreateLocalSigningKey(file)).toEqual(created);
  });

  it('two concurrent first uses agree on one key', async () => {
    const file = join(dir, 'local-signing-key.pem');
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateLocalSigningKey(file)));
    expect(new Set(keys.map((key) => key.keyId)).size).toBe(1);
    // The winner's key is the one on disk, and it signs.
    const onDisk = await loadOrCreateLocalSigningKey(file);
    expect(onDisk.keyId).toBe(keys[0]?.keyId);
  });

  it('refuses a key file others can read, and a symlink, without following it', async () => {
    const file = join(dir, 'local-signing-key.pem');
    const key = generateSigningKey();
    await writeFile(file, key.privateKeyPem, { mode: 0o600 });
    await chmod(file, 0o640);
    await expect(loadOrCreateLocalSigningKey(file)).rejects.toMatchObject({ code: 'HOME_INSECURE' });
    const elsewhere = join(dir, 'elsewhere.pem');
    await writeFile(elsewhere, key.privateKeyPem, { mode: 0o600 });
    const link = join(dir, 'linked.pem');
    await symlink(elsewhere, link);
    await expect(loadOrCreateLocalSigningKey(link)).rejects.toMatchObject({ code: 'HOME_INSECURE' });
  });

  it('a dangling symlink is refused, not written through', async () => {
    const target = join(dir, 'target.pem');
    const link = join(dir, 'local-signing-key.pem');
    await symlink(target, link);
    await expect(loadOrCreateLocalSigningKey(link)).rejects.toMatchObject({ code: 'HOME_INSECURE' });
    await expect(stat(target)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
