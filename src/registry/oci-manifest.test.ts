import { describe, expect, it } from 'vitest';
import { parseOciManifest, REGISTRY_MEDIA_TYPES } from './oci-manifest.js';

const digest = (c: string): string => `sha256:${c.repeat(64)}`;
const manifest = (extra: Record<string, unknown> = {}): Buffer =>
  Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: REGISTRY_MEDIA_TYPES.ociManifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest('a'), size: 10 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digest('b'), size: 20 }],
      ...extra,
    }),
  );

describe('parseOciManifest', () => {
  it('reads OCI and Docker v2 manifests, ignoring unknown fields as the spec asks', () => {
    expect(parseOciManifest(manifest({ annotations: { a: 'b' } }), undefined, 'x')).toEqual({
      mediaType: REGISTRY_MEDIA_TYPES.ociManifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest('a'), size: 10 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digest('b'), size: 20 }],
    });
    expect(parseOciManifest(manifest({ mediaType: undefined }), `${REGISTRY_MEDIA_TYPES.dockerManifest}; charset=utf-8`, 'x').mediaType).toBe(
      REGISTRY_MEDIA_TYPES.dockerManifest,
    );
  });

  it.each([
    ['an index', manifest({ mediaType: REGISTRY_MEDIA_TYPES.ociIndex })],
    ['a manifest list', manifest({ mediaType: REGISTRY_MEDIA_TYPES.dockerList })],
    ['schema 1', manifest({ schemaVersion: 1 })],
    ['another media type', manifest({ mediaType: 'text/plain' })],
    ['a foreign layer', manifest({ layers: [{ mediaType: 'x', digest: digest('b'), size: 1, urls: ['https://elsewhere.example/layer'] }] })],
    ['a sha512 digest', manifest({ config: { mediaType: 'x', digest: `sha512:${'a'.repeat(128)}`, size: 1 } })],
    ['a negative size', manifest({ config: { mediaType: 'x', digest: digest('a'), size: -1 } })],
    ['not JSON', Buffer.from('{')],
    ['a prototype key', Buffer.from('{"__proto__":{}}')],
  ])('refuses %s with REGISTRY_REFUSED', (_name, bytes) => {
    expect(() => parseOciManifest(bytes, undefined, 'x')).toThrow(expect.objectContaining({ code: 'REGISTRY_REFUSED' }));
  });
});
