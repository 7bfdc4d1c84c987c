import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

/**
 * A public key's id as it appears in a bundle's `publicKey.hint`: `sha256:` and the hex SHA-256 of
 * its DER SubjectPublicKeyInfo. It depends only on the key, so the same key has the same id under
 * any name a policy gives it, and a revocation of the id cannot be dodged by renaming the key.
 */
export function publicKeyFingerprint(key: string | KeyObject): string {
  const object = typeof key === 'string' ? createPublicKey(key) : key;
  const der = object.export({ format: 'der', type: 'spki' });
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}
