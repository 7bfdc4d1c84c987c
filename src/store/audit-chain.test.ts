import { describe, expect, it } from 'vitest';
import { canonicalAuditEncoding, GENESIS_HASH, hashAuditFields, verifyChain } from './audit-chain.js';
import type { AuditEntry, AuditFields } from './audit-record.js';

// The worked example in docs/audit.md; Python's json.dumps(fields, ensure_ascii=False,
// separators=(',', ':')) produces the same bytes, so the chain can be checked without Node.
const EXAMPLE: AuditFields = {
  seq: 1,
  timestamp: '2026-11-23T10:00:00.000Z',
  kind: 'intent',
  callId: 'call-1',
  topic: 'echo.say',
  source: 'echo',
  caller: 'cli',
  group: 'default',
  stage: null,
  code: null,
  decision: 'allowed',
  arguments: '{"text":"héllo\\n"}',
  detail: null,
  prevHash: GENESIS_HASH,
};

function chainOf(count: number): AuditEntry[] {
  const entries: AuditEntry[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= count; seq += 1) {
    const fields = { ...EXAMPLE, seq, callId: `call-${seq}`, prevHash };
    const entry = { ...fields, hash: hashAuditFields(fields) };
    entries.push(entry);
    prevHash = entry.hash;
  }
  return entries;
}

describe('the canonical encoding', () => {
  it('is a JSON array in a fixed order, and its SHA-256 is the hash', () => {
    expect(canonicalAuditEncoding(EXAMPLE)).toBe(
      '["carapace.audit.v1",1,"2026-11-23T10:00:00.000Z","intent","call-1","echo.say","echo","cli","default",null,null,' +
        '"allowed","{\\"text\\":\\"héllo\\\\n\\"}",null,"0000000000000000000000000000000000000000000000000000000000000000"]',
    );
    expect(hashAuditFields(EXAMPLE)).toBe('cd51e18b1f33410f1a394716a5cda22a49d3a19425ac7992afaae6264aba7696');
  });

  it('does not depend on the key order of the object it is given', () => {
    const reordered = Object.fromEntries(Object.entries(EXAMPLE).reverse()) as unknown as AuditFields;
    expect(hashAuditFields(reordered)).toBe(hashAuditFields(EXAMPLE));
  });

  it('tells a null field from an empty one', () => {
    expect(hashAuditFields({ ...EXAMPLE, detail: '' })).not.toBe(hashAuditFields(EXAMPLE));
  });
});

describe('verifyChain', () => {
  it('accepts an intact chain and reports its head', () => {
    const entries = chainOf(3);
    expect(verifyChain(entries)).toEqual({ ok: true, count: 3, head: { seq: 3, hash: entries[2]?.hash } });
    expect(verifyChain(entries, { seq: 2, hash: entries[1]?.hash ?? '' })).toMatchObject({ ok: true });
  });

  it('requires the chain to start at record 1', () => {
    expect(verifyChain(chainOf(3).slice(1))).toMatchObject({ ok: false, firstBrokenSeq: 1 });
  });

  it('names a duplicated record as out of order', () => {
    const entries = chainOf(3);
    expect(verifyChain([...entries.slice(0, 2), entries[1] as AuditEntry, entries[2] as AuditEntry])).toMatchObject({
      ok: false,
      firstBrokenSeq: 2,
      reason: expect.stringMatching(/out of order/),
    });
  });
});
