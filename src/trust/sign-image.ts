import { createPrivateKey, sign } from 'node:crypto';
import { bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import { FulcioSigner, MessageSignatureBundleBuilder, RekorWitness, TSAWitness, type Signer, type Witness } from '@sigstore/sign';
import { CarapaceError } from '../errors.js';
import { toSignedPayload } from './signed-payload.js';
import type { SigningKey } from './signing-key.js';

export type { SerializedBundle } from '@sigstore/bundle';

/**
 * Signs the simple-signing payload of `manifestDigest` with a local key pair: a Sigstore bundle
 * (message signature, `publicKey.hint` = the key's fingerprint) with no certificate, no log entry
 * and no timestamp. Nothing leaves the machine.
 */
export async function signImageDigest(manifestDigest: string, key: SigningKey): Promise<SerializedBundle> {
  const payload = toSignedPayload(manifestDigest);
  const privateKey = createPrivateKey(key.privateKeyPem);
  const signer: Signer = {
    async sign(data) {
      // ECDSA over SHA-256 of the payload, DER-encoded: what @sigstore/verify checks a message signature with.
      return { signature: sign('sha256', data, privateKey), key: { $case: 'publicKey', publicKey: key.publicKeyPem, hint: key.keyId } };
    },
  };
  return bundleToJSON(await build(signer, [], payload));
}

export interface KeylessSigningOptions {
  /** The OIDC identity token Fulcio exchanges for a short-lived certificate. */
  readonly identityToken: string;
  readonly fulcioURL: string;
  readonly rekorURL: string;
  /** A timestamp authority; its RFC 3161 timestamp is added to the bundle when given. */
  readonly tsaURL?: string;
  /** Per-request timeout in milliseconds (default 30 s). */
  readonly timeoutMs?: number;
}

/**
 * Signs the payload of `manifestDigest` keylessly: an ephemeral key, a Fulcio certificate for the
 * identity in the token, a Rekor entry and, with `tsaURL`, a timestamp. Throws SIGNING_FAILED when
 * any of those services refuses or cannot be reached (no retries: the caller decides).
 */
export async function signImageDigestKeyless(manifestDigest: string, options: KeylessSigningOptions): Promise<SerializedBundle> {
  const payload = toSignedPayload(manifestDigest);
  const fetchOptions = { timeout: options.timeoutMs ?? 30_000, retry: 0 };
  const signer = new FulcioSigner({
    identityProvider: { getToken: async () => options.identityToken },
    fulcioBaseURL: options.fulcioURL,
    ...fetchOptions,
  });
  const witnesses: Witness[] = [new RekorWitness({ rekorBaseURL: options.rekorURL, ...fetchOptions })];
  if (options.tsaURL !== undefined) witnesses.push(new TSAWitness({ tsaBaseURL: options.tsaURL, ...fetchOptions }));
  return bundleToJSON(await build(signer, witnesses, payload));
}

async function build(signer: Signer, witnesses: Witness[], payload: Buffer) {
  try {
    return await new MessageSignatureBundleBuilder({ signer, witnesses }).create({ data: payload });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CarapaceError('SIGNING_FAILED', `signing failed: ${reason}`, { cause: error });
  }
}
