import { createRequire } from 'node:module';
import type * as SigstoreProtobufSpecs from '@sigstore/protobuf-specs';
import type * as SigstoreVerify from '@sigstore/verify';
import type { KeyFinderFunc, TrustMaterial } from '@sigstore/verify';
import { CarapaceError } from '../errors.js';

// Required, not imported, for the reason given in verify-image.ts (Node's CommonJS lexer).
const require = createRequire(import.meta.url);
const { TrustedRoot } = require('@sigstore/protobuf-specs') as typeof SigstoreProtobufSpecs;
const { toTrustMaterial } = require('@sigstore/verify') as typeof SigstoreVerify;

/**
 * The Sigstore TrustedRoot (Fulcio CAs, Rekor logs, CT logs, timestamp authorities) as trust
 * material for @sigstore/verify. Parsing it and importing its keys and certificates costs a few
 * milliseconds warm and about 10 cold, so the result is kept for the life of the process, keyed by
 * the root's JSON text: every start reads the root file afresh, and an unchanged root is not built
 * again, while a changed one (another text) is built from what it now says.
 */

const EMPTY_ROOT: SigstoreProtobufSpecs.TrustedRoot = TrustedRoot.fromJSON({});
const materials = new Map<string, TrustMaterial>();
/** Roots rarely change within a process; a few are kept, the oldest dropped first. */
const MAX_MATERIALS = 4;

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
  const text = JSON.stringify(json);
  const cached = materials.get(text);
  if (cached !== undefined) return cached;
  let material: TrustMaterial;
  try {
    material = toTrustMaterial(TrustedRoot.fromJSON(json), NO_KEYS);
  } catch (error) {
    throw invalidRoot(error);
  }
  materials.set(text, material);
  for (const key of materials.keys()) {
    if (materials.size <= MAX_MATERIALS) break;
    materials.delete(key);
  }
  return material;
}

function invalidRoot(error: unknown): CarapaceError {
  const reason = error instanceof Error ? error.message : String(error);
  return new CarapaceError('TRUST_POLICY_INVALID', `the trusted root does not parse: ${reason}`, { cause: error });
}
