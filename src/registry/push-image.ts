import { CarapaceError } from '../errors.js';
import { parseOciManifest } from './oci-manifest.js';
import type { OciLayoutContents } from './oci-layout.js';
import type { RegistryClient } from './registry-client.js';

/** What a push stored: the manifest's digest, size and media type (a signature's `subject`). */
export interface PushedImage {
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
}

/**
 * Pushes an image read from an OCI layout (`readOciArchive`): its config and layers (skipping
 * blobs the registry has), then the manifest under `tag`. The digest is the layout's own, so the
 * image in the registry is the one that was built, byte for byte.
 */
export async function pushOciImage(client: RegistryClient, repository: string, tag: string, image: OciLayoutContents): Promise<PushedImage> {
  const blob = (digest: string): Buffer => {
    const bytes = image.blobs.get(digest);
    if (bytes === undefined) throw new CarapaceError('IMAGE_LOAD_FAILED', `the image layout lacks blob ${digest}`, { details: { digest } });
    return bytes;
  };
  const manifestBytes = blob(image.manifestDigest);
  const manifest = parseOciManifest(manifestBytes, image.manifestMediaType, `${image.manifestDigest} (local)`);
  for (const descriptor of [manifest.config, ...manifest.layers]) await client.pushBlob(repository, blob(descriptor.digest));
  const digest = await client.pushManifest(repository, tag, manifestBytes, manifest.mediaType);
  return { digest, size: manifestBytes.byteLength, mediaType: manifest.mediaType };
}
