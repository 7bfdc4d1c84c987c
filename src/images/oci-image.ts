import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { CONTAINER_USER } from '../core/container-spec.js';
import type { ImageConfig } from './image-definition.js';
import { toTarBytes, type TarEntry } from './tar-writer.js';

export const MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerTar: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** The annotation `podman load` and other OCI tools read to name an image in an index. */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/**
 * The one creation time every image claims, so the build time never changes the config digest.
 * The Unix epoch, as Nix dockerTools does.
 */
export const FIXED_CREATED = '1970-01-01T00:00:00Z';

/**
 * `none` is the default: an uncompressed layer's digest depends only on our tar bytes, while a
 * gzip stream also depends on the zlib version inside Node, so an upgrade could move every digest.
 */
export type LayerCompression = 'none' | 'gzip';

export interface OciImageInput {
  readonly name: string;
  readonly layerEntries: readonly TarEntry[];
  readonly config: ImageConfig;
  /** OCI architecture name (`amd64`, `arm64`): the host binaries in the layer decide it. */
  readonly architecture: string;
  readonly compression: LayerCompression;
}

/** An image assembled in memory: its digests, its name and the OCI layout tarball to load. */
export interface OciImage extends OciImageDigests {
  /** Bytes of the OCI image layout tarball (oci-layout, index.json, blobs/sha256/...). */
  readonly archive: Buffer;
}

/** What an image's digests are made of, once its layer is known: everything but the layer's bytes. */
export interface OciImageDigests {
  /** `name:tag`, where the tag is derived from the manifest digest. */
  readonly reference: string;
  /** `name@sha256:...`: the form to run, since it cannot be re-pointed by retagging. */
  readonly pinnedReference: string;
  readonly manifestDigest: string;
  readonly configDigest: string;
  /** Digest of the layer as stored (compressed if gzip). */
  readonly layerDigest: string;
  /** Digest of the uncompressed layer tar, as listed in the config's rootfs.diff_ids. */
  readonly diffId: string;
}

/** The layer as the manifest lists it: its digest as stored, the uncompressed tar's digest, its stored size. */
export interface OciLayer {
  readonly layerDigest: string;
  readonly diffId: string;
  readonly size: number;
}

/** Pure: the same input gives the same bytes and digests, on every run and every machine. */
export function toOciImage(input: OciImageInput): OciImage {
  const layerTar = toTarBytes(input.layerEntries);
  const diffId = sha256Digest(layerTar);
  const layerBlob = input.compression === 'gzip' ? gzipSync(layerTar, { level: 9 }) : layerTar;
  const layerDigest = input.compression === 'gzip' ? sha256Digest(layerBlob) : diffId;
  const { digests, configBlob, manifestBlob, indexBlob } = toOciMetadata(input, { layerDigest, diffId, size: layerBlob.byteLength });

  const blobs = new Map<string, Buffer>([
    [layerDigest, layerBlob],
    [digests.configDigest, configBlob],
    [digests.manifestDigest, manifestBlob],
  ]);
  const archive = toTarBytes([
    { type: 'directory', path: 'blobs', mode: 0o755 },
    { type: 'directory', path: 'blobs/sha256', mode: 0o755 },
    ...[...blobs].map(([digest, bytes]) => ({
      type: 'file' as const,
      path: `blobs/sha256/${digest.slice('sha256:'.length)}`,
      mode: 0o644,
      content: bytes,
    })),
    { type: 'file', path: 'index.json', mode: 0o644, content: indexBlob },
    { type: 'file', path: 'oci-layout', mode: 0o644, content: toJsonBytes({ imageLayoutVersion: '1.0.0' }) },
  ]);

  return { ...digests, archive };
}

/**
 * The config, manifest and index of an image whose layer is `layer`, and the digests they give.
 * Pure; toOciImage and digestImage (which hashes the layer as a stream) share it, so both name an
 * image alike.
 */
export function toOciMetadata(
  input: Omit<OciImageInput, 'layerEntries'>,
  layer: OciLayer,
): { digests: OciImageDigests; configBlob: Buffer; manifestBlob: Buffer; indexBlob: Buffer } {
  const configBlob = toJsonBytes(toConfigDocument(input, layer.diffId));
  const configDigest = sha256Digest(configBlob);
  const manifestBlob = toJsonBytes({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: MEDIA_TYPES.config, digest: configDigest, size: configBlob.byteLength },
    layers: [
      {
        mediaType: input.compression === 'gzip' ? MEDIA_TYPES.layerGzip : MEDIA_TYPES.layerTar,
        digest: layer.layerDigest,
        size: layer.size,
      },
    ],
  });
  const manifestDigest = sha256Digest(manifestBlob);
  const tag = toContentTag(manifestDigest);
  const reference = `${input.name}:${tag}`;

  const indexBlob = toJsonBytes({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: [
      {
        mediaType: MEDIA_TYPES.manifest,
        digest: manifestDigest,
        size: manifestBlob.byteLength,
        annotations: { [REF_NAME_ANNOTATION]: reference },
      },
    ],
  });
  const digests = { reference, pinnedReference: `${input.name}@${manifestDigest}`, manifestDigest, configDigest, layerDigest: layer.layerDigest, diffId: layer.diffId };
  return { digests, configBlob, manifestBlob, indexBlob };
}

/** A tag that names the content, so a tag lookup can never find an older build of the same name. */
export function toContentTag(manifestDigest: string): string {
  return `sha256-${manifestDigest.slice('sha256:'.length, 'sha256:'.length + 32)}`;
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

// Field order follows the OCI image spec; object literals keep insertion order in JSON.stringify,
// and labels are sorted, so the serialisation is fixed.
function toConfigDocument(input: Omit<OciImageInput, 'layerEntries'>, diffId: string): object {
  const { config } = input;
  const labels = Object.fromEntries(Object.entries(config.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    created: FIXED_CREATED,
    architecture: input.architecture,
    os: 'linux',
    config: {
      User: CONTAINER_USER,
      Env: [`PATH=${config.path}`],
      ...(config.entrypoint === undefined ? {} : { Entrypoint: [...config.entrypoint] }),
      ...(config.cmd === undefined ? {} : { Cmd: [...config.cmd] }),
      WorkingDir: config.workdir,
      Labels: labels,
    },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created: FIXED_CREATED, created_by: 'carapace image builder' }],
  };
}

function toJsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
