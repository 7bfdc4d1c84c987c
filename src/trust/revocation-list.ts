import { z } from 'zod';
import { CarapaceError } from '../errors.js';
import { MANIFEST_DIGEST_PATTERN } from './signed-payload.js';
import { listIssues, toSchemaIssues } from './schema-issues.js';
import { readTrustFile, writeTrustFile } from './trust-file.js';

/**
 * The local revocation list (`<home>/trust/revoked.json`), checked at every start after the
 * signature verified: a revoked key (by policy id or by fingerprint), a revoked keyless identity
 * (certificate subject) or a revoked manifest digest is refused with TRUST_REVOKED, whatever the
 * policy says.
 */
export interface RevocationList {
  /** Key ids as the policy names them, or key fingerprints (`sha256:<hex of the DER public key>`). */
  readonly keys: readonly string[];
  /** Keyless subjects (the certificate's subject alternative name), compared exactly. */
  readonly identities: readonly string[];
  /** Manifest digests, `sha256:<hex>`. */
  readonly digests: readonly string[];
  /** Why and when, keyed by `key:<value>`, `identity:<value>` or `digest:<value>`. */
  readonly notes?: Readonly<Record<string, RevocationNote>>;
}

export interface RevocationNote {
  readonly reason?: string;
  /** ISO 8601 time of the revocation. */
  readonly at: string;
}

export type RevocationKind = 'key' | 'identity' | 'digest';

export const EMPTY_REVOCATION_LIST: RevocationList = { keys: [], identities: [], digests: [] };

const Entry = z.string().min(1).max(1024);

const RevocationListSchema = z.strictObject({
  keys: z.array(Entry).max(10_000).default([]),
  identities: z.array(Entry).max(10_000).default([]),
  digests: z.array(z.string().regex(MANIFEST_DIGEST_PATTERN, 'must be sha256:<64 lowercase hex>')).max(10_000).default([]),
  notes: z.record(z.string().max(1100), z.strictObject({ reason: z.string().max(1024).optional(), at: z.iso.datetime({ offset: true }) })).optional(),
});

/**
 * Narrows a parsed revocation file. A file that does not parse is an error (TRUST_POLICY_INVALID),
 * never an empty list: dropping revocations because of a typo would let a revoked key sign again.
 */
export function parseRevocationList(json: unknown, file: string): RevocationList {
  const result = RevocationListSchema.safeParse(json);
  if (!result.success) {
    const issues = toSchemaIssues(result.error.issues);
    throw new CarapaceError('TRUST_POLICY_INVALID', `${file}: invalid revocation list: ${listIssues(issues)}`, { details: { file, issues } });
  }
  const { keys, identities, digests, notes } = result.data;
  return { keys, identities, digests, ...(notes === undefined ? {} : { notes: toNotes(notes) }) };
}

/** Reads and parses the list; a missing file is the empty list. */
export async function loadRevocationList(file: string): Promise<RevocationList> {
  const text = await readTrustFile(file);
  if (text === undefined) return EMPTY_REVOCATION_LIST;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CarapaceError('TRUST_POLICY_INVALID', `${file}: not JSON: ${(error as Error).message}`, { cause: error, details: { file } });
  }
  return parseRevocationList(json, file);
}

/** Writes the list atomically, 0600, after checking it parses back. */
export async function saveRevocationList(file: string, list: RevocationList): Promise<void> {
  const normalized = parseRevocationList(JSON.parse(JSON.stringify(list)), file);
  await writeTrustFile(file, `${JSON.stringify(normalized, null, 2)}\n`);
}

/** A copy of `list` with `value` revoked (idempotent: the first note is kept). */
export function addRevocation(
  list: RevocationList,
  entry: { readonly kind: RevocationKind; readonly value: string; readonly reason?: string; readonly at: Date },
): RevocationList {
  const field = FIELDS[entry.kind];
  const values = list[field];
  const noteKey = `${entry.kind}:${entry.value}`;
  const notes = { ...(list.notes ?? {}) };
  notes[noteKey] ??= { ...(entry.reason === undefined ? {} : { reason: entry.reason }), at: entry.at.toISOString() };
  return { ...list, [field]: values.includes(entry.value) ? values : [...values, entry.value], notes };
}

/** What a verified signature is checked against: the digest, and who signed it. */
export interface RevocationSubject {
  readonly digest: string;
  /** The policy's name for the key. */
  readonly keyId?: string;
  /** The key's fingerprint, so renaming the key in the policy does not escape a revocation. */
  readonly keyFingerprint?: string;
  /** The keyless certificate's subject. */
  readonly subject?: string;
}

/** Throws TRUST_REVOKED naming what was revoked (and why, if the list says). */
export function verifyNotRevoked(list: RevocationList, subject: RevocationSubject): void {
  const hit =
    (list.digests.includes(subject.digest) ? { kind: 'digest' as const, value: subject.digest } : undefined) ??
    (subject.keyId !== undefined && list.keys.includes(subject.keyId) ? { kind: 'key' as const, value: subject.keyId } : undefined) ??
    (subject.keyFingerprint !== undefined && list.keys.includes(subject.keyFingerprint) ? { kind: 'key' as const, value: subject.keyFingerprint } : undefined) ??
    (subject.subject !== undefined && list.identities.includes(subject.subject) ? { kind: 'identity' as const, value: subject.subject } : undefined);
  if (hit === undefined) return;
  const note = list.notes?.[`${hit.kind}:${hit.value}`];
  const why = note?.reason === undefined ? '' : ` (${note.reason})`;
  throw new CarapaceError('TRUST_REVOKED', `${hit.kind} ${hit.value} is revoked${why}`, {
    details: { kind: hit.kind, value: hit.value, digest: subject.digest, ...(note === undefined ? {} : { note }) },
  });
}

/** A stable JSON form of the list (for cache keys). */
export function canonicalRevocationJson(list: RevocationList): string {
  // Only what decides a refusal: notes are commentary, so editing a reason keeps the cache warm.
  return JSON.stringify({ keys: [...list.keys].sort(), identities: [...list.identities].sort(), digests: [...list.digests].sort() });
}

const FIELDS = { key: 'keys', identity: 'identities', digest: 'digests' } as const;

function toNotes(notes: Record<string, { reason?: string | undefined; at: string }>): Record<string, RevocationNote> {
  return Object.fromEntries(
    Object.entries(notes).map(([key, note]) => [key, { ...(note.reason === undefined ? {} : { reason: note.reason }), at: note.at }]),
  );
}
