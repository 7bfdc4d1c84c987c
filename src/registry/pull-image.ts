import { join } from 'node:path';
import { readCarapaceFiles, type CarapaceFiles } from './carapace-files.js';
import { blobPath, packLayout, prepareLayout } from './oci-layout.js';
import type { RegistryClient } from './registry-client.js';
import { toRepositoryName, type RegistryReference } from './registry-reference.js';
import { fetchSignatureBundle, type FetchedBundle } from './signature-artifact.js';

/** The facts a signature check needs, handed to the caller's verifier before any layer is fetched. */
export interface SignedDigest {
  /** The manifest digest about to be pulled and pinned. */
  readonly digest: string;
  readonly bundle: FetchedBundle;
  /** `registry/repository`, for messages. */
  readonly repository: string;
}

export interface PullOptions {
  /** An empty, private directory; the layout and the archive are written here. */
  readonly workDir: string;
  /**
   * Checks the signature; throwing stops the pull. It runs after the manifest's digest is checked
   * and before any layer is downloaded, so an unsigned image costs one manifest and no layers.
   */
  readonly verify: (signed: SignedDigest) => Promise<void> | void;
  /** Progress for long steps, one line each (downloads). */
  readonly onProgress?: (line: string) => void;
}

/** A pulled image, every byte checked against its digest, ready to load. */
export interface PulledImage {
  /** `registry/repository`: the name it is pinned under. */
  readonly repository: string;
  /** `registry/repository:sha256-<hex>`: the name `podman load` gives it (the tag names the content). */
  readonly reference: string;
  readonly digest: string;
  readonly configDigest: string;
  readonly bundle: FetchedBundle;
  /** The OCI layout tarball for `ContainerRuntime.loadImage`. */
  readonly archivePath: string;
  /** /carapace/** from the image's layers. */
  readonly carapaceFiles: CarapaceFiles;
}

/**
 * Pulls one image by digest with its signature, in the order that keeps unverified bytes away
 * from everything else: resolve the tag (if one was given), fetch the manifest and check its
 * digest, fetch the signature bundle and let `verify` judge it, then stream the config and layers,
 * each checked against its digest, into an OCI layout under `workDir`, and read /carapace out of
 * the layers. Nothing outside `workDir` is touched; the caller loads, pins and installs.
 */
export async function pullSignedImage(client: RegistryClient, reference: RegistryReference, options: PullOptions): Promise<PulledImage> {
  const repository = toRepositoryName(reference);
  const progress = options.onProgress ?? (() => undefined);
  const digest = reference.digest ?? (await client.resolveTag(reference.repository, reference.tag ?? ''));
  const fetched = await client.getManifest(reference.repository, digest);
  const bundle = await fetchSignatureBundle(client, reference.repository, digest);
  await options.verify({ digest, bundle, repository });

  const layoutDir = join(options.workDir, 'layout');
  await prepareLayout(layoutDir);
  const { config, layers } = fetched.manifest;
  const total = [config, ...layers].reduce((sum, blob) => sum + blob.size, 0);
  progress(`pulling ${repository}@${digest}: ${String(layers.length)} layer(s), ${formatBytes(total)}`);
  const seen = new Set<string>();
  for (const [index, blob] of [config, ...layers].entries()) {
    // The same blob may be listed twice (an empty layer); it is downloaded and written once.
    if (seen.has(blob.digest)) continue;
    seen.add(blob.digest);
    if (index > 0) progress(`  layer ${String(index)}/${String(layers.length)} ${blob.digest.slice(0, 19)} ${formatBytes(blob.size)}`);
    await client.downloadBlob(reference.repository, blob, blobPath(layoutDir, blob.digest));
  }
  const carapaceFiles = await readCarapaceFiles(layers.map((layer) => blobPath(layoutDir, layer.digest)));

  const name = `${repository}:sha256-${digest.slice('sha256:'.length, 'sha256:'.length + 32)}`;
  const archivePath = join(options.workDir, 'image.oci.tar');
  await packLayout(layoutDir, { digest, bytes: fetched.bytes, mediaType: fetched.manifest.mediaType }, name, archivePath);
  return { repository, reference: name, digest, configDigest: config.digest, bundle, archivePath, carapaceFiles };
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
