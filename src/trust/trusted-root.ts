import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type KeyFinderFunc, type TrustMaterial } from '@sigstore/verify';
import { CarapaceError } from '../errors.js';

/**
 * The Sigstore TrustedRoot (Fulcio CAs, Rekor logs, CT logs, timestamp authorities) as trust
 * material for @sigstore/verify. Parsing it and importing its keys and certificates costs time, so
 * the result is kept per JSON object: a caller that loads the root once pays once.
 */

const EMPTY_ROOT: TrustedRoot = TrustedRoot.fromJSON({});
const materials = new WeakMap<object, TrustMaterial>();

/** No key finder: a bundle that names a key where none was expected is refused. */
const NO_KEYS: KeyFinderFunc = (hint) => {
  throw new CarapaceError('SIGNATURE_UNTRUSTED', `no trusted key ${hint}`);
};

/**
 * Trust material from `trustedRoot` (a TrustedRoot JSON value, or undefined for none: then no
 * certificate, log entry or timestamp can verify) and a finder for the public keys allowed.
 * Throws TRUST_POLICY_INVALID when the root does not parse.
 */
export function toTrustMaterialFor(trustedRoot: unknown, keyFinder: KeyFinderFunc = NO_KEYS): TrustMaterial {
  return { ...rootMaterial(trustedRoot), publicKey: keyFinder };
}

function rootMaterial(json: unknown): TrustMaterial {
  if (json === undefined) return toTrustMaterial(EMPTY_ROOT, NO_KEYS);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalidRoot(new Error('not a JSON object'));
  const cached = materials.get(json);
  if (cached !== undefined) return cached;
  let material: TrustMaterial;
  try {
    material = toTrustMaterial(TrustedRoot.fromJSON(json), NO_KEYS);
  } catch (error) {
    throw invalidRoot(error);
  }
  materials.set(json, material);
  return material;
}

function invalidRoot(error: unknown): CarapaceError {
  const reason = error instanceof Error ? error.message : String(error);
  return new CarapaceError('TRUST_POLICY_INVALID', `the trusted root does not parse: ${reason}`, { cause: error });
}
