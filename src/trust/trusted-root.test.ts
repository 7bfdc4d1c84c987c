import { describe, expect, it } from 'vitest';
import { toTrustMaterialFor } from './trusted-root.js';

const root = (baseUrl: string) => ({
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [],
  certificateAuthorities: [{ subject: { commonName: 'test' }, uri: baseUrl, certChain: { certificates: [] }, validFor: { start: '2026-01-01T00:00:00Z' } }],
  ctlogs: [],
  timestampAuthorities: [],
});

describe('toTrustMaterialFor', () => {
  it('builds the material of a root once per process, however often the same root is read afresh', () => {
    const first = toTrustMaterialFor(root('https://fulcio.one.test'));
    const again = toTrustMaterialFor(JSON.parse(JSON.stringify(root('https://fulcio.one.test'))) as unknown);
    expect(again.certificateAuthorities).toBe(first.certificateAuthorities);
  });

  it('builds a changed root anew', () => {
    const one = toTrustMaterialFor(root('https://fulcio.one.test'));
    const other = toTrustMaterialFor(root('https://fulcio.other.test'));
    expect(other.certificateAuthorities).not.toBe(one.certificateAuthorities);
  });

  it('refuses a root that is not a JSON object with TRUST_POLICY_INVALID', () => {
    expect(() => toTrustMaterialFor(['not', 'a', 'root'])).toThrow(expect.objectContaining({ code: 'TRUST_POLICY_INVALID' }));
  });
});
