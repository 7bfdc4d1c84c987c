import { createHash } from 'node:crypto';
import { canonicalRevocationJson, type RevocationList } from './revocation-list.js';
import { MANIFEST_DIGEST_PATTERN } from './signed-payload.js';
import { readKeyedEntries, saveKeyedEntries, type KeyedEntriesFormat } from './keyed-entries-file.js';
import { canonicalPolicyJson, type TrustPolicy } from './trust-policy.js';
import type { VerifiedSignature } from './verify-image.js';

/**
 * Positive verification results, persisted (`<home>/trust/verified.json`) so a warm start in a new
 * process pays a hash and a map lookup instead of a signature check. Safe by construction:
 * - only passes are stored, so the cache can only skip work, never turn a refusal into a pass;
 * - the key is the SHA-256 of everything the verdict depends on (digest, bundle bytes, policy,
 *   revocation list, trusted root), so any change to one of them is a miss and verifies afresh;
 * - a cache file that does not parse is treated as empty.
 * Whoever can write this file could also write the policy beside it, so it adds no new way in.
 */
export class VerificationCache {
  readonly #file: string;
  readonly #entries: Map<string, VerifiedSignature>;

  private constructor(file: string, entries: Map<string, VerifiedSignature>) {
    this.#file = file;
    this.#entries = entries;
  }

  /** Loads the cache file; a missing, unreadable-as-JSON or malformed file gives an empty cache. */
  static async open(file: string): Promise<VerificationCache> {
    // An insecure file (a symlink, others can write it) still throws: that is worth knowing.
    return new VerificationCache(file, await readKeyedEntries(file, CACHE_FORMAT));
  }

  /** The cache key for one verification's inputs. */
  static keyFor(input: VerificationCacheInput): string {
    const hash = createHash('sha256');
    for (const part of [
      input.manifestDigest,
      typeof input.bundleBytes === 'string' ? Buffer.from(input.bundleBytes, 'utf8') : input.bundleBytes,
      canonicalPolicyJson(input.policy),
      canonicalRevocationJson(input.revocations),
      input.trustedRootBytes ?? '',
    ]) {
      // Length-prefixed, so no part can run into the next and make two inputs hash alike.
      const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
      hash.update(`${bytes.length}:`).update(bytes);
    }
    return hash.digest('hex');
  }

  /** The stored result for `key`, if its digest is the one asked about. */
  lookup(key: string, manifestDigest: string): VerifiedSignature | undefined {
    const hit = this.#entries.get(key);
    return hit !== undefined && hit.digest === manifestDigest ? hit : undefined;
  }

  /**
   * Stores a pass and rewrites the file atomically (0600, not fsynced: a lost write costs one
   * re-verification), merged with what is on disk now: plugins
   * verify in parallel, each through its own cache object, and none should drop another's entry.
   * Writers in this process queue; across processes the last writer wins, which costs at most a
   * re-verification. Keeps the newest MAX_ENTRIES.
   */
  async remember(key: string, result: VerifiedSignature): Promise<void> {
    this.#entries.delete(key);
    this.#entries.set(key, result);
    await saveKeyedEntries(this.#file, this.#entries, CACHE_FORMAT);
  }

  /** Whether any stored pass is for `manifestDigest` (under whatever inputs): a hint, never a verdict. */
  hasPassFor(manifestDigest: string): boolean {
    for (const result of this.#entries.values()) if (result.digest === manifestDigest) return true;
    return false;
  }

  get size(): number {
    return this.#entries.size;
  }
}

export interface VerificationCacheInput {
  readonly manifestDigest: string;
  /** The bundle file's bytes exactly as read (not re-serialized). */
  readonly bundleBytes: string | Buffer;
  readonly policy: TrustPolicy;
  readonly revocations: RevocationList;
  /** The trusted root file's bytes, when the policy names one. */
  readonly trustedRootBytes?: string | Buffer;
}

/**
 * Verifies through the cache: a hit returns the stored pass; a miss parses `bundleBytes` (undefined:
 * no bundle file, refused with SIGNATURE_MISSING), runs verifyImageSignature (which throws on
 * refusal, and nothing is stored) and remembers the pass.
 * `trustedRoot` is the parsed form of `trustedRootBytes`.
 */
export async function verifyImageSignatureCached(
  cache: VerificationCache,
  input: Omit<VerificationCacheInput, 'bundleBytes'> & { readonly bundleBytes: string | Buffer | undefined; readonly trustedRoot?: unknown },
): Promise<VerifiedSignature> {
  // Sigstore's modules load only on a miss: a warm start never pays for importing them.
  const verifier = async () => (await import('./verify-image.js')).verifyImageSignature;
  if (input.bundleBytes === undefined) {
    // No bundle file: nothing to cache, and the verifier refuses with SIGNATURE_MISSING (or TRUST_REVOKED).
    return (await verifier())({ manifestDigest: input.manifestDigest, bundle: undefined, policy: input.policy, revocations: input.revocations });
  }
  const key = VerificationCache.keyFor({ ...input, bundleBytes: input.bundleBytes });
  const hit = cache.lookup(key, input.manifestDigest);
  if (hit !== undefined) return hit;
  const result = (await verifier())({
    manifestDigest: input.manifestDigest,
    bundle: parseBundleJson(input.bundleBytes),
    policy: input.policy,
    revocations: input.revocations,
    ...(input.trustedRoot === undefined ? {} : { trustedRoot: input.trustedRoot }),
  });
  await cache.remember(key, result);
  return result;
}

/**
 * Entries are checked by hand rather than with a zod schema: this runs on every core start, and a
 * schema's first use costs more than the rest of a warm start.
 */
const CACHE_FORMAT: KeyedEntriesFormat<VerifiedSignature> = { valueField: 'result', narrow: toVerifiedSignature, maxEntries: 1024 };

function toVerifiedSignature(value: unknown): VerifiedSignature | undefined {
  if (!isRecord(value) || typeof value['digest'] !== 'string' || !MANIFEST_DIGEST_PATTERN.test(value['digest'])) return undefined;
  const signer = value['signer'];
  if (!isRecord(signer)) return undefined;
  const digest = value['digest'];
  const { kind } = signer;
  if (kind === 'key' && typeof signer['keyId'] === 'string' && typeof signer['fingerprint'] === 'string') {
    return { digest, signer: { kind, keyId: signer['keyId'], fingerprint: signer['fingerprint'] } };
  }
  if (kind === 'keyless' && typeof signer['subject'] === 'string' && typeof signer['issuer'] === 'string') {
    return { digest, signer: { kind, subject: signer['subject'], issuer: signer['issuer'] } };
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A bundle file that is not JSON is handed on as a non-bundle, so the verifier refuses it with its code. */
function parseBundleJson(bytes: string | Buffer): unknown {
  try {
    return JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8')) as unknown;
  } catch {
    return { notJson: true };
  }
}
