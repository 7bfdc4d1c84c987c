import { describe, expect, it } from 'vitest';
import { AUDIT_CAPS, capUtf8, normalizeAuditRecord, toWellFormed } from './audit-record.js';

const identity = (text: string): string => text;

describe('normalizeAuditRecord', () => {
  it('caps free text and container-chosen labels in UTF-8 bytes', () => {
    const record = normalizeAuditRecord({ kind: 'refusal', decision: 'refused', topic: 't'.repeat(10_000), detail: 'é'.repeat(5000) }, identity);
    expect(Buffer.byteLength(record.topic ?? '')).toBeLessThanOrEqual(AUDIT_CAPS.label);
    expect(Buffer.byteLength(record.detail ?? '')).toBeLessThanOrEqual(AUDIT_CAPS.detail);
    expect(record.detail).toMatch(/^(é)+…\[truncated\]$/);
  });

  it('replaces oversized arguments with a bounded marker', () => {
    const record = normalizeAuditRecord({ kind: 'refusal', decision: 'refused', arguments: { blob: 'x'.repeat(100_000) } }, identity);
    const stored = JSON.parse(record.arguments ?? '');
    expect(stored).toMatchObject({ 'carapace.truncated': true, originalBytes: 100_011 });
    expect(Buffer.byteLength(record.arguments ?? '')).toBeLessThan(AUDIT_CAPS.arguments);
  });

  it('records arguments it cannot serialise as a marker instead of losing the record', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    for (const value of [cyclic, { n: 10n }, () => 1]) {
      const record = normalizeAuditRecord({ kind: 'refusal', decision: 'refused', arguments: value }, identity);
      expect(record.arguments).toBe('{"carapace.unserialisable":true}');
    }
  });

  it('keeps a __proto__ key as data', () => {
    const hostile = JSON.parse('{"__proto__":{"polluted":true},"a":1}') as unknown;
    const record = normalizeAuditRecord({ kind: 'refusal', decision: 'refused', arguments: hostile }, identity);
    expect(record.arguments).toBe('{"__proto__":{"polluted":true},"a":1}');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('refuses a decision that does not belong to the kind, and a sanitizer that returns no string', () => {
    expect(() => normalizeAuditRecord({ kind: 'lifecycle', decision: 'allowed' }, identity)).toThrow(
      expect.objectContaining({ code: 'AUDIT_WRITE_FAILED' }),
    );
    expect(() => normalizeAuditRecord({ kind: 'refusal', decision: 'refused', detail: 'x' }, () => undefined as unknown as string)).toThrow(
      expect.objectContaining({ code: 'AUDIT_WRITE_FAILED' }),
    );
  });
});

describe('text helpers', () => {
  it('cuts on a character boundary', () => {
    expect(capUtf8('🦀🦀🦀🦀🦀', 19)).toBe('🦀…[truncated]');
    expect(capUtf8('short', 16)).toBe('short');
  });

  it('replaces only lone surrogates', () => {
    expect(toWellFormed('a\uD800b\uDC00c🦀')).toBe('a\uFFFDb\uFFFDc🦀');
  });
});
