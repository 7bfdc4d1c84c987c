import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { CarapaceError } from '../errors.js';
import { publicKeyFingerprint } from './key-fingerprint.js';
import { readTrustFile, writeTrustFile } from './trust-file.js';

/** An ECDSA P-256 key pair that signs image digests without any network service. */
export interface SigningKey {
  /** The public key's fingerprint (`sha256:<hex>`), written into every bundle as its key hint. */
  readonly keyId: string;
  /** PKCS#8 PEM. Stays on this machine, in an owner-only file. */
  readonly privateKeyPem: string;
  /** SubjectPublicKeyInfo PEM: what a trust policy lists. */
  readonly publicKeyPem: string;
}

/** A fresh P-256 key pair. */
export function generateSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  return {
    keyId: publicKeyFingerprint(publicKey),
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem,
  };
}

/**
 * Turns a PEM private key into a SigningKey. Throws TRUST_POLICY_INVALID naming `source` for
 * anything but an ECDSA or RSA private key.
 */
export function parseSigningKey(privateKeyPem: string, source: string): SigningKey {
  try {
    const privateKey = createPrivateKey(privateKeyPem);
    if (privateKey.asymmetricKeyType !== 'ec' && privateKey.asymmetricKeyType !== 'rsa') {
      throw new Error(`key type ${String(privateKey.asymmetricKeyType)} is not supported (ECDSA or RSA)`);
    }
    const publicKey = createPublicKey(privateKey);
    return {
      keyId: publicKeyFingerprint(publicKey),
      privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    };
  } catch (error) {
    throw new CarapaceError('TRUST_POLICY_INVALID', `${source}: not a usable PEM private key: ${(error as Error).message}`, {
      cause: error,
      details: { file: source },
    });
  }
}

/**
 * Reads a private key file: 0600, ours, a plain file (never followed through a symlink).
 * Throws HOME_INSECURE for a file others could read or swap, TRUST_POLICY_INVALID for a bad key.
 */
export async function loadSigningKey(file: string): Promise<SigningKey | undefined> {
  const pem = await readTrustFile(file, { secret: true });
  return pem === undefined ? undefined : parseSigningKey(pem, file);
}

/**
 * The home's local signing key, created on first need. Two processes creating it at once agree:
 * the file is created with link(2), which never replaces an existing one, and the loser reads the
 * winner's key, so every bundle made on this home names the one key its policy trusts.
 */
export async function loadOrCreateLocalSigningKey(file: string): Promise<SigningKey> {
  const existing = await loadSigningKey(file);
  if (existing !== undefined) return existing;
  const created = generateSigningKey();
  try {
    await writeTrustFile(file, created.privateKeyPem, { exclusive: true });
    return created;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const winner = await loadSigningKey(file);
  if (winner === undefined) throw new CarapaceError('HOME_UNAVAILABLE', `${file} vanished while it was being created`, { details: { path: file } });
  return winner;
}
