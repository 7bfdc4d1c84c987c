import { hash } from 'node:crypto';
import type { AuditEntry, AuditFields } from './audit-record.js';

/**
 * The hash chain over audit records. Each record's hash covers its own fields, its position (seq)
 * and the previous record's hash, so changing, removing, reordering or re-inserting any record
 * breaks the chain at that point. Pure: no SQLite here, so an exported JSONL file verifies the
 * same way as the live database.
 */

/** The `prevHash` of the first record (seq 1). */
export const GENESIS_HASH = '0'.repeat(64);

/** Versions the canonical encoding; a future encoding gets a new tag rather than a silent change. */
export const CHAIN_ENCODING_TAG = 'carapace.audit.v1';

/**
 * The exact bytes the hash covers: the UTF-8 of `JSON.stringify` (no whitespace) of this array,
 * in this order, with absent fields as `null` and `arguments` as the stored JSON text (a string):
 *
 *   ["carapace.audit.v1", seq, timestamp, kind, callId, topic, source, caller, group, stage,
 *    code, decision, arguments, detail, prevHash]
 *
 * An array, not an object, so field order is fixed by position and no serializer's key ordering
 * matters. Strings are well-formed (the log replaces lone surrogates before storing them).
 */
export function canonicalAuditEncoding(fields: AuditFields): string {
  return JSON.stringify([
    CHAIN_ENCODING_TAG,
    fields.seq,
    fields.timestamp,
    fields.kind,
    fields.callId,
    fields.topic,
    fields.source,
    fields.caller,
    fields.group,
    fields.stage,
    fields.code,
    fields.decision,
    fields.arguments,
    fields.detail,
    fields.prevHash,
  ]);
}

/** Lowercase hex SHA-256 of the canonical encoding. */
export function hashAuditFields(fields: AuditFields): string {
  // One-shot: no Hash object per record, on a path every call takes twice.
  return hash('sha256', canonicalAuditEncoding(fields), 'hex');
}

/** A chain head to check against, recorded somewhere the log's writer cannot rewrite. */
export interface ChainAnchor {
  readonly seq: number;
  readonly hash: string;
}

export type ChainVerdict =
  | { readonly ok: true; readonly count: number; readonly head: ChainAnchor | undefined }
  | { readonly ok: false; readonly firstBrokenSeq: number; readonly reason: string };

/**
 * Walks records in seq order and names the first broken link. The chain must start at seq 1 and
 * count up by one; each `prevHash` must equal the previous record's hash; each hash must match
 * the record's fields. With an anchor, the chain must also reach the anchor's seq with its hash,
 * which is what catches a truncated tail (the chain alone cannot: a shorter chain is still valid).
 */
export function verifyChain(entries: Iterable<AuditEntry>, anchor?: ChainAnchor): ChainVerdict {
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let anchorSeen = false;
  for (const entry of entries) {
    if (entry.seq !== expectedSeq) {
      // Rows come back in seq order, so a larger seq means the records in between are gone.
      return entry.seq > expectedSeq
        ? broken(expectedSeq, `record ${expectedSeq} is missing (the next record is ${entry.seq})`)
        : broken(entry.seq, `record ${entry.seq} is out of order (expected ${expectedSeq})`);
    }
    if (entry.prevHash !== prevHash) {
      return broken(entry.seq, `record ${entry.seq} does not link to record ${entry.seq - 1}: prev_hash differs from its hash`);
    }
    if (hashAuditFields(entry) !== entry.hash) {
      return broken(entry.seq, `record ${entry.seq} was modified: its hash does not match its fields`);
    }
    if (anchor !== undefined && entry.seq === anchor.seq) {
      if (entry.hash !== anchor.hash) return broken(entry.seq, `record ${entry.seq} differs from the anchored hash`);
      anchorSeen = true;
    }
    prevHash = entry.hash;
    expectedSeq += 1;
  }
  const count = expectedSeq - 1;
  if (anchor !== undefined && !anchorSeen) {
    return broken(count + 1, `the log ends at record ${count} but the anchor names record ${anchor.seq}: records were removed`);
  }
  return { ok: true, count, head: count === 0 ? undefined : { seq: count, hash: prevHash } };
}

function broken(firstBrokenSeq: number, reason: string): ChainVerdict {
  return { ok: false, firstBrokenSeq, reason };
}
