import { createPublicKey } from 'node:crypto';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { CarapaceError } from '../errors.js';
import { publicKeyFingerprint } from './key-fingerprint.js';
import { listIssues, toSchemaIssues, type SchemaIssue } from './schema-issues.js';
import { readTrustFile, writeTrustFile } from './trust-file.js';

/**
 * The trust policy (`<home>/trust/policy.json`): who may sign the images Carapace runs. A signature
 * passes only if it was made by one of `keys`, or by a Fulcio certificate whose OIDC issuer and
 * subject match one of `keyless`. An empty policy trusts nothing, so every image is refused.
 */
export interface TrustPolicy {
  readonly version: 1;
  readonly keys: readonly TrustedKey[];
  readonly keyless: readonly KeylessIdentity[];
  /** Every signature must carry a transparency-log entry that verifies against `trustedRootFile`. */
  readonly requireTransparencyLog: boolean;
  /** Every signature must carry an RFC 3161 timestamp from a timestamp authority in `trustedRootFile`. */
  readonly requireTimestamp: boolean;
  /** A Sigstore TrustedRoot JSON (Fulcio CAs, Rekor and CT logs, TSAs); relative to the policy's folder. */
  readonly trustedRootFile?: string;
}

/** A public key (PEM, SubjectPublicKeyInfo) that may sign images, under a name for people. */
export interface TrustedKey {
  readonly id: string;
  readonly publicKeyPem: string;
}

/**
 * A keyless signer: the certificate's OIDC issuer must equal `issuer`, and its subject alternative
 * name must equal `subject` or match `subjectPattern` (a regular expression anchored at both ends).
 */
export interface KeylessIdentity {
  readonly issuer: string;
  readonly subject?: string;
  readonly subjectPattern?: string;
}

/** The policy a missing file means: no key, no identity, so nothing verifies. */
export const EMPTY_TRUST_POLICY: TrustPolicy = {
  version: 1,
  keys: [],
  keyless: [],
  requireTransparencyLog: false,
  requireTimestamp: false,
};

export const KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_TEXT = 1024;

const TrustedKeySchema = z.strictObject({
  id: z.string().regex(KEY_ID_PATTERN, 'must be 1-64 characters: letters, digits, ".", "_", "-"'),
  publicKeyPem: z.string().max(16 * 1024).superRefine(checkPublicKey),
});

const KeylessIdentitySchema = z
  .strictObject({
    issuer: z.string().min(1).max(MAX_TEXT),
    subject: z.string().min(1).max(MAX_TEXT).optional(),
    subjectPattern: z.string().min(1).max(MAX_TEXT).optional(),
  })
  .superRefine((identity, ctx) => {
    if ((identity.subject === undefined) === (identity.subjectPattern === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'exactly one of subject and subjectPattern is required' });
    }
    if (identity.subjectPattern !== undefined) {
      try {
        toSubjectMatcher(identity.subjectPattern);
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: ['subjectPattern'], message: `not a regular expression: ${(error as Error).message}` });
      }
    }
  });

const TrustPolicySchema = z
  .strictObject({
    version: z.literal(1),
    keys: z.array(TrustedKeySchema).max(256).default([]),
    keyless: z.array(KeylessIdentitySchema).max(256).default([]),
    requireTransparencyLog: z.boolean().default(false),
    requireTimestamp: z.boolean().default(false),
    trustedRootFile: z.string().min(1).max(4096).optional(),
  })
  .superRefine((policy, ctx) => {
    // Two entries for one key would make the signer's name depend on which one a lookup finds first.
    const seenIds = new Map<string, number>();
    const seenKeys = new Map<string, number>();
    policy.keys.forEach((key, index) => {
      if (seenIds.has(key.id)) ctx.addIssue({ code: 'custom', path: ['keys', index, 'id'], message: `duplicate key id "${key.id}"` });
      seenIds.set(key.id, index);
      const fingerprint = fingerprintOrUndefined(key.publicKeyPem);
      if (fingerprint === undefined) return;
      const first = seenKeys.get(fingerprint);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['keys', index, 'publicKeyPem'], message: `the same key as keys.${first}` });
      seenKeys.set(fingerprint, index);
    });
  });

/**
 * Narrows a parsed policy file. Throws TRUST_POLICY_INVALID naming `file` and every bad field
 * (unknown fields included: a misspelt requirement must not silently be no requirement).
 */
export function parseTrustPolicy(json: unknown, file: string): TrustPolicy {
  const result = TrustPolicySchema.safeParse(json);
  if (!result.success) throw invalidPolicy(file, toSchemaIssues(result.error.issues));
  const data = result.data;
  return {
    version: 1,
    keys: data.keys.map((key) => ({ id: key.id, publicKeyPem: key.publicKeyPem })),
    keyless: data.keyless.map((identity) =>
      identity.subject !== undefined
        ? { issuer: identity.issuer, subject: identity.subject }
        : { issuer: identity.issuer, subjectPattern: identity.subjectPattern ?? '' },
    ),
    requireTransparencyLog: data.requireTransparencyLog,
    requireTimestamp: data.requireTimestamp,
    ...(data.trustedRootFile === undefined ? {} : { trustedRootFile: data.trustedRootFile }),
  };
}

/** Reads and parses the policy; a missing file is the empty policy, which trusts nothing. */
export async function loadTrustPolicy(file: string): Promise<TrustPolicy> {
  const text = await readTrustFile(file);
  if (text === undefined) return EMPTY_TRUST_POLICY;
  return parseTrustPolicy(parseJson(text, file), file);
}

/** Writes the policy atomically, 0600, after checking it parses back (a bad edit never lands). */
export async function saveTrustPolicy(file: string, policy: TrustPolicy): Promise<void> {
  const normalized = parseTrustPolicy(JSON.parse(JSON.stringify(policy)), file);
  await writeTrustFile(file, `${JSON.stringify(normalized, null, 2)}\n`);
}

/** The policy's `trustedRootFile` as an absolute path (relative names are under the policy's folder). */
export function trustedRootPath(policy: TrustPolicy, policyFile: string): string | undefined {
  if (policy.trustedRootFile === undefined) return undefined;
  return isAbsolute(policy.trustedRootFile) ? policy.trustedRootFile : resolve(dirname(policyFile), policy.trustedRootFile);
}

/** Reads the TrustedRoot JSON the policy names, or undefined when it names none. */
export async function loadTrustedRoot(policy: TrustPolicy, policyFile: string): Promise<unknown> {
  const file = trustedRootPath(policy, policyFile);
  if (file === undefined) return undefined;
  const text = await readTrustFile(file);
  if (text === undefined) {
    throw new CarapaceError('TRUST_POLICY_INVALID', `${policyFile}: trustedRootFile ${file} does not exist`, { details: { file: policyFile, trustedRootFile: file } });
  }
  return parseJson(text, file);
}

/**
 * The matcher for a `subjectPattern`. Anchored at both ends, so `.*@example\.com` cannot be
 * satisfied by `attacker@example.com.evil.org`.
 */
export function toSubjectMatcher(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`, 'u');
}

/** A stable JSON form of the policy (for cache keys): fields in a fixed order, nothing else. */
export function canonicalPolicyJson(policy: TrustPolicy): string {
  return JSON.stringify({
    version: policy.version,
    keys: policy.keys.map((key) => ({ id: key.id, publicKeyPem: key.publicKeyPem })),
    keyless: policy.keyless.map((identity) => ({ issuer: identity.issuer, subject: identity.subject ?? null, subjectPattern: identity.subjectPattern ?? null })),
    requireTransparencyLog: policy.requireTransparencyLog,
    requireTimestamp: policy.requireTimestamp,
    trustedRootFile: policy.trustedRootFile ?? null,
  });
}

function checkPublicKey(pem: string, ctx: z.RefinementCtx): void {
  // createPublicKey also accepts a private key (and derives its public half); a private key has no
  // place in a policy file that is meant to be shared.
  if (pem.includes('PRIVATE KEY')) {
    ctx.addIssue({ code: 'custom', message: 'is a private key; put the public key here' });
    return;
  }
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ec' && key.asymmetricKeyType !== 'rsa') {
      ctx.addIssue({ code: 'custom', message: `key type ${String(key.asymmetricKeyType)} is not supported (ECDSA or RSA)` });
    }
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `not a PEM public key: ${(error as Error).message}` });
  }
}

function fingerprintOrUndefined(pem: string): string | undefined {
  try {
    return publicKeyFingerprint(pem);
  } catch {
    return undefined; // already reported by checkPublicKey
  }
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CarapaceError('TRUST_POLICY_INVALID', `${file}: not JSON: ${(error as Error).message}`, { cause: error, details: { file } });
  }
}

function invalidPolicy(file: string, issues: readonly SchemaIssue[]): CarapaceError {
  return new CarapaceError('TRUST_POLICY_INVALID', `${file}: invalid trust policy: ${listIssues(issues)}`, { details: { file, issues } });
}
