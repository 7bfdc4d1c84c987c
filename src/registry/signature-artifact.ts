import { CarapaceError, isCarapaceError } from '../errors.js';
import { parseJsonText } from '../wire/json.js';
import { DIGEST_PATTERN, REGISTRY_MEDIA_TYPES } from './oci-manifest.js';
import type { RegistryClient } from './registry-client.js';

/** The most a Sigstore bundle may weigh; real ones are a few kilobytes. */
export const MAX_BUNDLE_BYTES = 1024 * 1024;

/** The OCI empty descriptor's content: an artifact manifest's config when it has nothing to say. */
const EMPTY_CONFIG = Buffer.from('{}', 'utf8');

/** A bundle as fetched: its exact bytes (kept beside the lock) and the JSON they hold. */
export interface FetchedBundle {
  readonly bytes: Buffer;
  readonly json: unknown;
}

/**
 * The tag a signature bundle is stored under, next to the image it signs: cosign's
 * `sha256-<hex>` convention with a `.sigstore` suffix. Registries without the referrers API
 * (Debian's docker-registry 2.8 among them) can still find it by name.
 */
export function toSignatureTag(imageDigest: string): string {
  if (!DIGEST_PATTERN.test(imageDigest)) throw new CarapaceError('IMAGE_REFERENCE_INVALID', `${JSON.stringify(imageDigest)} is not a sha256 digest`);
  return `sha256-${imageDigest.slice('sha256:'.length)}.sigstore`;
}

/**
 * Stores a bundle as an OCI artifact: an image manifest whose one layer is the bundle JSON, with
 * `subject` naming the signed image for registries that do index referrers. Returns the
 * artifact manifest's digest.
 */
export async function pushSignatureBundle(
  client: RegistryClient,
  repository: string,
  image: { readonly digest: string; readonly size: number; readonly mediaType?: string },
  bundleBytes: Uint8Array,
): Promise<string> {
  const config = await client.pushBlob(repository, EMPTY_CONFIG);
  const layer = await client.pushBlob(repository, bundleBytes);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: REGISTRY_MEDIA_TYPES.ociManifest,
      artifactType: REGISTRY_MEDIA_TYPES.sigstoreBundle,
      config: { mediaType: REGISTRY_MEDIA_TYPES.ociEmpty, digest: config.digest, size: config.size },
      layers: [{ mediaType: REGISTRY_MEDIA_TYPES.sigstoreBundle, digest: layer.digest, size: layer.size }],
      subject: { mediaType: image.mediaType ?? REGISTRY_MEDIA_TYPES.ociManifest, digest: image.digest, size: image.size },
    }),
    'utf8',
  );
  return client.pushManifest(repository, toSignatureTag(image.digest), manifest, REGISTRY_MEDIA_TYPES.ociManifest);
}

/**
 * The bundle stored for `imageDigest`. Nothing here is trusted: the tag is mutable and the bundle
 * says nothing until the verifier checks it against the digest about to be pinned. No artifact,
 * or one without a bundle layer, is SIGNATURE_MISSING; a bundle that is not JSON is
 * SIGNATURE_INVALID.
 */
export async function fetchSignatureBundle(client: RegistryClient, repository: string, imageDigest: string): Promise<FetchedBundle> {
  const where = `${client.registry}/${repository}:${toSignatureTag(imageDigest)}`;
  let artifact;
  try {
    artifact = await client.getManifestByTag(repository, toSignatureTag(imageDigest), 'SIGNATURE_MISSING');
  } catch (error) {
    if (isCarapaceError(error) && error.code === 'SIGNATURE_MISSING') {
      throw new CarapaceError('SIGNATURE_MISSING', `no signature for ${imageDigest} in ${client.registry}/${repository} (looked for ${where})`, {
        cause: error,
        details: { digest: imageDigest, repository },
      });
    }
    throw error;
  }
  const layers = artifact.manifest.layers.filter((layer) => layer.mediaType === REGISTRY_MEDIA_TYPES.sigstoreBundle);
  const layer = layers[0];
  if (layer === undefined || layers.length > 1) {
    throw new CarapaceError('SIGNATURE_MISSING', `${where} holds ${String(layers.length)} Sigstore bundles, expected exactly one`, {
      details: { digest: imageDigest, repository },
    });
  }
  const bytes = await client.readBlob(repository, layer, MAX_BUNDLE_BYTES, 'SIGNATURE_MISSING');
  try {
    return { bytes, json: parseJsonText(bytes.toString('utf8'), { maxDepth: 32 }) };
  } catch (error) {
    throw new CarapaceError('SIGNATURE_INVALID', `${where}: the bundle is not JSON`, { cause: error, details: { digest: imageDigest, repository } });
  }
}
