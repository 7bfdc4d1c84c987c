import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalRevocationJson, type RevocationList } from './revocation-list.js';
import { MANIFEST_DIGEST_PATTERN } from './signed-payload.js';
import { readTrustFile, writeTrustFile } from './trust-file.js';
import { canonicalPolicyJson, type TrustPolicy } from './trust-policy.js';
import { verifyImageSignature, type VerifiedSignature } from './verify-image.js';

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
    const text = await readTrustFile(file);
    return new VerificationCache(file, text === undefined ? new Map() : parseEntries(text));
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

  /** Stores a pass and rewrites the file atomically (0600). Keeps the newest MAX_ENTRIES. */
  async remember(key: string, result: VerifiedSignature): Promise<void> {
    this.#entries.delete(key);
    this.#entries.set(key, result);
    while (this.#entries.size > MAX_ENTRIES) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    const entries = [...this.#entries].map(([entryKey, value]) => ({ key: entryKey, result: value }));
    await writeTrustFile(this.#file, `${JSON.stringify({ version: 1, entries })}\n`);
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
 * no bundle file, refused with SIGNATURE_MISSING), runs
 * verifyImageSignature (which throws on refusal, and nothing is stored) and remembers the pass.
 * `trustedRoot` is the parsed form of `trustedRootBytes`.
 */
export async function verifyImageSignatureCached(
  cache: VerificationCache,
  input: Omit<VerificationCacheInput, 'bundleBytes'> & { readonly bundleBytes: string | Buffer | undefined; readonly trustedRoot?: unknown },
): Promise<VerifiedSignature> {
  if (input.bundleBytes === undefined) {
    // No bundle file: nothing to cache, and the verifier refuses with SIGNATURE_MISSING (or TRUST_REVOKED).
    return verifyImageSignature({ manifestDigest: input.manifestDigest, bundle: undefined, policy: input.policy, revocations: input.revocations });
  }
  const key = VerificationCache.keyFor({ ...input, bundleBytes: input.bundleBytes });
  const hit = cache.lookup(key, input.manifestDigest);
  if (hit !== undefined) return hit;
  const result = verifyImageSignature({
    manifestDigest: input.manifestDigest,
    bundle: parseBundleJson(input.bundleBytes),
    policy: input.policy,
    revocations: input.revocations,
    ...(input.trustedRoot === undefined ? {} : { trustedRoot: input.trustedRoot }),
  });
  await cache.remember(key, result);
  return result;
}

const MAX_ENTRIES = 1024;

const SignerSchema = z.union([
  z.strictObject({ kind: z.literal('key'), keyId: z.string(), fingerprint: z.string() }),
  z.strictObject({ kind: z.literal('keyless'), subject: z.string(), issuer: z.string() }),
]);
const CacheFileSchema = z.strictObject({
  version: z.literal(1),
  entries: z.array(
    z.strictObject({
      key: z.string().regex(/^[0-9a-f]{64}$/),
      result: z.strictObject({ digest: z.string().regex(MANIFEST_DIGEST_PATTERN), signer: SignerSchema }),
    }),
  ),
});

function parseEntries(text: string): Map<string, VerifiedSignature> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return new Map(); // corrupt: start empty; the next pass rewrites it whole
  }
  const parsed = CacheFileSchema.safeParse(json);
  if (!parsed.success) return new Map();
  return new Map(parsed.data.entries.map((entry) => [entry.key, entry.result]));
}

/** A bundle file that is not JSON is handed on as a non-bundle, so the verifier refuses it with its code. */
function parseBundleJson(bytes: string | Buffer): unknown {
  try {
    return JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8')) as unknown;
  } catch {
    return { notJson: true };
  }
}
