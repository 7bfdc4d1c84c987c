import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { create, list, type ReadEntry } from 'tar';
import { CarapaceError } from '../errors.js';
import { DIGEST_PATTERN, REGISTRY_MEDIA_TYPES } from './oci-manifest.js';

/** The annotation `podman load` reads to name the image it loads from an OCI layout. */
const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/** The blob path of `digest` inside an OCI image layout at `layoutDir`. */
export function blobPath(layoutDir: string, digest: string): string {
  return join(layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

/** Makes `layoutDir/blobs/sha256/`, where the pulled blobs are streamed. */
export async function prepareLayout(layoutDir: string): Promise<void> {
  await mkdir(join(layoutDir, 'blobs', 'sha256'), { recursive: true, mode: 0o700 });
}

/**
 * Completes an OCI image layout whose blobs are in place (the manifest is written here) and packs
 * it into one tarball for `ContainerRuntime.loadImage`, naming the image `name`.
 */
export async function packLayout(
  layoutDir: string,
  manifest: { readonly digest: string; readonly bytes: Uint8Array; readonly mediaType: string },
  name: string,
  archivePath: string,
): Promise<void> {
  await writeFile(blobPath(layoutDir, manifest.digest), manifest.bytes, { mode: 0o600 });
  const index = {
    schemaVersion: 2,
    mediaType: REGISTRY_MEDIA_TYPES.ociIndex,
    manifests: [{ mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.byteLength, annotations: { [REF_NAME_ANNOTATION]: name } }],
  };
  await writeFile(join(layoutDir, 'index.json'), JSON.stringify(index), { mode: 0o600 });
  await writeFile(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }), { mode: 0o600 });
  await create({ file: archivePath, cwd: layoutDir, portable: true }, ['oci-layout', 'index.json', 'blobs']);
}

/** An OCI image layout read from a tarball: its one image manifest and every blob by digest. */
export interface OciLayoutContents {
  readonly manifestDigest: string;
  readonly manifestMediaType: string;
  readonly blobs: ReadonlyMap<string, Buffer>;
}

/**
 * Reads an OCI layout tarball (what the image builder writes, or `podman save --format
 * oci-archive`) into memory, for pushing. It must hold exactly one manifest in index.json.
 */
export async function readOciArchive(archivePath: string): Promise<OciLayoutContents> {
  const files = new Map<string, Buffer>();
  await list({
    file: archivePath,
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      const path = entry.path.replace(/^\.\//, '');
      if (entry.type !== 'File' && entry.type !== 'OldFile') {
        entry.resume();
        return;
      }
      const chunks: Buffer[] = [];
      entry.on('data', (chunk: Buffer) => chunks.push(chunk));
      entry.on('end', () => files.set(path, Buffer.concat(chunks)));
    },
  });
  const invalid = (why: string): CarapaceError => new CarapaceError('IMAGE_LOAD_FAILED', `${archivePath} is not an OCI image layout: ${why}`, { details: { archivePath } });
  const indexBytes = files.get('index.json');
  if (indexBytes === undefined) throw invalid('no index.json');
  const index = JSON.parse(indexBytes.toString('utf8')) as { manifests?: { digest?: unknown; mediaType?: unknown }[] };
  const entry = index.manifests?.length === 1 ? index.manifests[0] : undefined;
  if (entry === undefined || typeof entry.digest !== 'string' || !DIGEST_PATTERN.test(entry.digest)) throw invalid('index.json must list exactly one manifest');
  const blobs = new Map<string, Buffer>();
  for (const [path, bytes] of files) {
    const match = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(path);
    if (match !== null) blobs.set(`sha256:${match[1] ?? ''}`, bytes);
  }
  return {
    manifestDigest: entry.digest,
    manifestMediaType: typeof entry.mediaType === 'string' ? entry.mediaType : REGISTRY_MEDIA_TYPES.ociManifest,
    blobs,
  };
}
