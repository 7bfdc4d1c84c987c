import { describe, expect, it } from 'vitest';
import { checkedId, checkedImageReference } from './docker-api-paths.js';

describe('values that go into runtime API paths', () => {
  it('accepts container ids and names, image names, tags and digests', () => {
    expect(checkedId('e1765430ac3b')).toBe('e1765430ac3b');
    expect(checkedId('carapace-echo_1.2')).toBe('carapace-echo_1.2');
    expect(checkedImageReference('localhost/carapace/canary:sha256-abc')).toBe('localhost/carapace/canary:sha256-abc');
    expect(checkedImageReference(`localhost/x@sha256:${'a'.repeat(64)}`)).toContain('@sha256:');
  });

  it.each(['../images/json', 'a?force=true', 'a#x', 'a b', '', '/containers'])('refuses container id %j', (id) => {
    expect(() => checkedId(id)).toThrowError(expect.objectContaining({ code: 'CONTAINER_NOT_FOUND' }));
  });

  it.each(['../../containers/json', 'x?all=1', 'x y', 'x\n', '/abs'])('refuses image reference %j', (reference) => {
    expect(() => checkedImageReference(reference)).toThrowError(expect.objectContaining({ code: 'IMAGE_REFERENCE_INVALID' }));
  });
});
