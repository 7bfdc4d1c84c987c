import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CarapaceError, toCarapaceError } from '../errors.js';
import { toNormalizedRootfs, type ImageDefinition, type RootfsEntry } from './image-definition.js';
import { toOciImage, type LayerCompression, type OciImage } from './oci-image.js';
import type { TarEntry } from './tar-writer.js';

export interface ComposeImageOptions {
  readonly compression?: LayerCompression;
  /** OCI architecture; defaults to the host's, since the rootfs copies host binaries. */
  readonly architecture?: string;
}

export interface BuildImageOptions extends ComposeImageOptions {
  /** Directory the archive is written to; created if missing. */
  readonly outputDir: string;
}

export interface BuiltImage {
  /** OCI image layout tarball, ready for `ContainerRuntime.loadImage`. */
  readonly archivePath: string;
  readonly manifestDigest: string;
  readonly configDigest: string;
  /** `name:tag` with a content-derived tag; `podman load` names the image this. */
  readonly reference: string;
  /** `name@sha256:<manifest digest>`. */
  readonly pinnedReference: string;
}

/** Reads the definition's host files and assembles the image in memory. */
export async function composeImage(definition: ImageDefinition, options: ComposeImageOptions = {}): Promise<OciImage> {
  const rootfs = toNormalizedRootfs(definition);
  const layerEntries = await Promise.all(rootfs.map(toTarEntry));
  return toOciImage({
    name: definition.name,
    layerEntries,
    config: definition.config,
    architecture: options.architecture ?? hostArchitecture(),
    compression: options.compression ?? 'none',
  });
}

/**
 * Builds the image and writes its archive into `outputDir`. The same definition and host files
 * give a byte-identical archive and the same manifest digest on every build.
 */
export async function buildImage(definition: ImageDefinition, options: BuildImageOptions): Promise<BuiltImage> {
  const image = await composeImage(definition, options);
  const archivePath = await writeImageArchive(image, options.outputDir);
  return {
    archivePath,
    manifestDigest: image.manifestDigest,
    configDigest: image.configDigest,
    reference: image.reference,
    pinnedReference: image.pinnedReference,
  };
}

/**
 * Writes the archive under a temporary name and renames it, so a crash never leaves a truncated
 * file under the final name for a later load to pick up.
 */
export async function writeImageArchive(image: OciImage, outputDir: string): Promise<string> {
  const fileName = `${image.manifestDigest.replace(':', '-')}.oci.tar`;
  const archivePath = join(outputDir, fileName);
  const partialPath = join(outputDir, `.${fileName}.${randomBytes(6).toString('hex')}.partial`);
  try {
    await mkdir(outputDir, { recursive: true });
    await writeFile(partialPath, image.archive, { mode: 0o644 });
    await rename(partialPath, archivePath);
    return archivePath;
  } catch (error) {
    await rm(partialPath, { force: true });
    throw toCarapaceError(error, 'IMAGE_BUILD_FAILED', `cannot write image archive to ${outputDir}`);
  }
}

async function toTarEntry(entry: RootfsEntry): Promise<TarEntry> {
  // Layer paths are relative to the image root.
  const path = entry.path.slice(1);
  switch (entry.type) {
    case 'directory':
      return { type: 'directory', path, mode: entry.mode };
    case 'symlink':
      return { type: 'symlink', path, target: entry.target };
    case 'file':
      return { type: 'file', path, mode: entry.mode, content: await readSource(entry.path, entry.source) };
  }
}

async function readSource(imagePath: string, source: { hostPath: string } | { content: string | Uint8Array }): Promise<Uint8Array> {
  if ('content' in source) {
    return typeof source.content === 'string' ? Buffer.from(source.content, 'utf8') : source.content;
  }
  try {
    return await readFile(source.hostPath);
  } catch (error) {
    throw new CarapaceError('IMAGE_BUILD_FAILED', `cannot read ${source.hostPath} for ${imagePath}`, {
      cause: error,
      details: { hostPath: source.hostPath, imagePath },
    });
  }
}

// Only the hosts Carapace supports; anything else must name its architecture explicitly.
const OCI_ARCHITECTURES: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64' };

function hostArchitecture(): string {
  const architecture = OCI_ARCHITECTURES[process.arch];
  if (architecture === undefined) {
    throw new CarapaceError('IMAGE_BUILD_FAILED', `no OCI architecture name for host architecture ${process.arch}`);
  }
  return architecture;
}
