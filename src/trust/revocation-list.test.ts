import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  addRevocation,
  canonicalRevocationJson,
  EMPTY_REVOCATION_LIST,
  loadRevocationList,
  parseRevocationList,
  saveRevocationList,
  verifyNotRevoked,
} from './revocation-list.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const at = new Date('2026-01-02T03:04:05.000Z');

describe('verifyNotRevoked', () => {
  const list = [
    { kind: 'digest', value: DIGEST, reason: 'pulled upstream' },
    { kind: 'key', value: 'old-release' },
    { kind: 'identity', value: 'dev@acme.example' },
  ].reduce((acc, entry) => addRevocation(acc, { ...(entry as { kind: 'key'; value: string }), at }), EMPTY_REVOCATION_LIST);

  it('throws TRUST_REVOKED naming the digest, key or identity, with the reason', () => {
    expect(() => verifyNotRevoked(list, { digest: DIGEST })).toThrow(expect.objectContaining({ code: 'TRUST_REVOKED', message: expect.stringContaining('pulled upstream') }));
    expect(() => verifyNotRevoked(list, { digest: `sha256:${'b'.repeat(64)}`, keyId: 'old-release' })).toThrow(
      expect.objectContaining({ code: 'TRUST_REVOKED', details: expect.objectContaining({ kind: 'key', value: 'old-release' }) }),
    );
    expect(() => verifyNotRevoked(list, { digest: `sha256:${'b'.repeat(64)}`, subject: 'dev@acme.example' })).toThrow(expect.objectContaining({ code: 'TRUST_REVOKED' }));
  });

  it('passes what is not listed (identities compare exactly)', () => {
    expect(() => verifyNotRevoked(list, { digest: `sha256:${'b'.repeat(64)}`, keyId: 'release', subject: 'dev@acme.example.org' })).not.toThrow();
  });

  it('adds idempotently and keeps the first note', () => {
    const again = addRevocation(list, { kind: 'key', value: 'old-release', reason: 'later', at: new Date() });
    expect(again.keys).toEqual(['old-release']);
    expect(again.notes?.['key:old-release']).toEqual({ at: at.toISOString() });
  });

  it('canonical JSON ignores order and notes', () => {
    const a = addRevocation(addRevocation(EMPTY_REVOCATION_LIST, { kind: 'key', value: 'a', at }), { kind: 'key', value: 'b', at });
    const b = addRevocation(addRevocation(EMPTY_REVOCATION_LIST, { kind: 'key', value: 'b', reason: 'x', at }), { kind: 'key', value: 'a', at });
    expect(canonicalRevocationJson(a)).toBe(canonicalRevocationJson(b));
  });
});

describe('revocation files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'carapace-revoked-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a missing file is the empty list; saved lists load back, 0600', async () => {
    const file = join(dir, 'revoked.json');
    expect(await loadRevocationList(file)).toEqual(EMPTY_REVOCATION_LIST);
    const list = addRevocation(EMPTY_REVOCATION_LIST, { kind: 'digest', value: DIGEST, reason: 'r', at });
    await saveRevocationList(file, list);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await loadRevocationList(file)).toEqual(list);
  });

  it('a file that does not parse is an error, never an empty list', async () => {
    const file = join(dir, 'revoked.json');
    await writeFile(file, '{"keys": [', { mode: 0o600 });
    await expect(loadRevocationList(file)).rejects.toMatchObject({ code: 'TRUST_POLICY_INVALID' });
    await writeFile(file, JSON.stringify({ keys: [], digests: ['sha256:short'], extra: true }), { mode: 0o600 });
    await expect(loadRevocationList(file)).rejects.toMatchObject({ code: 'TRUST_POLICY_INVALID' });
    expect(() => parseRevocationList({ digests: ['latest'] }, file)).toThrow(expect.objectContaining({ message: expect.stringContaining('digests.0') }));
  });
});
