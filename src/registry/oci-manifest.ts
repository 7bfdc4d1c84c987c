import { z } from 'zod';
import { CarapaceError } from '../errors.js';
import { parseJsonText } from '../wire/json.js';

/** The media types a registry client meets; docker's v2 schema is the OCI manifest under another name. */
export const REGISTRY_MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  sigstoreBundle: 'application/vnd.dev.sigstore.bundle.v0.3+json',
} as const;

/** The Accept header for manifests: every kind we can read, plus the indexes we refuse by name. */
export const MANIFEST_ACCEPT = Object.values(REGISTRY_MEDIA_TYPES).slice(0, 4).join(', ');

export const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;

/** The most a manifest may weigh, as in the distribution reference registry. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_LAYERS = 128;

export interface BlobDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

/** An image (or artifact) manifest, narrowed to what pulling and pushing need. */
export interface OciManifest {
  readonly mediaType: string;
  readonly config: BlobDescriptor;
  readonly layers: readonly BlobDescriptor[];
}

// Unknown fields are allowed: the OCI spec says readers must ignore them, and the manifest's bytes,
// unknown fields included, are what the digest and the signature cover. `urls` is refused: a
// "foreign layer" would be fetched from a host outside the registry and the policy.
const Descriptor = z.object({
  mediaType: z.string().min(1).max(256),
  digest: z.string().regex(DIGEST_PATTERN, 'must be sha256: and 64 lowercase hex digits'),
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  urls: z.undefined({ error: 'foreign layers (urls) are not fetched' }).optional(),
});

const ManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: Descriptor,
  layers: z.array(Descriptor).max(MAX_LAYERS),
});

/**
 * Parses a manifest the registry served (its digest already checked). `contentType` is the
 * response's, used when the manifest does not name its own media type. An index or manifest list
 * is refused: Carapace pins one platform's manifest, so name that manifest by digest.
 */
export function parseOciManifest(bytes: Uint8Array, contentType: string | undefined, source: string): OciManifest {
  const invalid = (why: string, cause?: unknown): CarapaceError =>
    new CarapaceError('REGISTRY_REFUSED', `${source}: not an image manifest Carapace can pull: ${why}`, { cause, details: { source } });
  let json: unknown;
  try {
    json = parseJsonText(Buffer.from(bytes).toString('utf8'), { maxDepth: 16 });
  } catch (error) {
    throw invalid('it is not JSON', error);
  }
  const declared = typeof json === 'object' && json !== null && 'mediaType' in json ? (json as { mediaType: unknown }).mediaType : undefined;
  const mediaType = typeof declared === 'string' ? declared : (contentType?.split(';')[0]?.trim() ?? REGISTRY_MEDIA_TYPES.ociManifest);
  if (mediaType === REGISTRY_MEDIA_TYPES.ociIndex || mediaType === REGISTRY_MEDIA_TYPES.dockerList) {
    throw invalid('it is a multi-platform index; name the platform manifest by its digest (REF@sha256:...)');
  }
  if (mediaType !== REGISTRY_MEDIA_TYPES.ociManifest && mediaType !== REGISTRY_MEDIA_TYPES.dockerManifest) {
    throw invalid(`media type ${JSON.stringify(mediaType)}`);
  }
  const result = ManifestSchema.safeParse(json);
  if (!result.success) {
    throw invalid(result.error.issues.map((issue) => `${issue.path.join('.') || '(manifest)'}: ${issue.message}`).join('; '));
  }
  const toDescriptor = ({ mediaType: type, digest, size }: z.infer<typeof Descriptor>): BlobDescriptor => ({ mediaType: type, digest, size });
  return { mediaType, config: toDescriptor(result.data.config), layers: result.data.layers.map(toDescriptor) };
}
