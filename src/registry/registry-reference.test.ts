import { describe, expect, it } from 'vitest';
import { isLoopbackHost, parseRegistryReference, toRepositoryName } from './registry-reference.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('parseRegistryReference', () => {
  it('splits registry, repository, tag and digest', () => {
    expect(parseRegistryReference('127.0.0.1:5000/carapace/echo:1.0')).toEqual({
      registry: '127.0.0.1:5000',
      host: '127.0.0.1',
      repository: 'carapace/echo',
      tag: '1.0',
      digest: undefined,
    });
    expect(parseRegistryReference(`ghcr.io/org/plugin@${DIGEST}`)).toMatchObject({ registry: 'ghcr.io', repository: 'org/plugin', tag: undefined, digest: DIGEST });
    expect(parseRegistryReference(`localhost/p:v1@${DIGEST}`)).toMatchObject({ host: 'localhost', tag: 'v1', digest: DIGEST });
    expect(parseRegistryReference('[::1]:5000/p:v1')).toMatchObject({ registry: '[::1]:5000', host: '::1' });
    expect(toRepositoryName(parseRegistryReference('localhost:5000/a/b:c'))).toBe('localhost:5000/a/b');
  });

  it.each([
    ['carapace/echo:1.0', 'no registry: would mean Docker Hub to some tools'],
    ['echo:1.0', 'no registry'],
    ['localhost:5000/Echo:1', 'uppercase repository'],
    ['localhost:5000/echo', 'neither tag nor digest'],
    ['localhost:5000/echo@sha256:abc', 'short digest'],
    [`localhost:5000/echo@sha512:${'a'.repeat(128)}`, 'other algorithm'],
    ['localhost:5000/echo:-x', 'tag starting with -'],
    ['-rm:5000/echo:1', 'registry starting with -'],
    ['localhost:5000/../etc:1', 'path traversal'],
    [`localhost:5000/${'a'.repeat(600)}:1`, 'too long'],
  ])('refuses %s (%s) with IMAGE_REFERENCE_INVALID', (reference) => {
    expect(() => parseRegistryReference(reference)).toThrow(expect.objectContaining({ code: 'IMAGE_REFERENCE_INVALID' }));
  });
});

describe('isLoopbackHost', () => {
  it('knows loopback by address, and localhost by name only', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST']) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ['128.0.0.1', '127.0.0.256', '10.0.0.1', 'localhost.example.com', 'example.com', '::2', '0.0.0.0']) expect(isLoopbackHost(host)).toBe(false);
  });
});
