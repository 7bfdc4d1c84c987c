import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { CarapaceError, toCarapaceError } from '../errors.js';
import { toNormalizedRootfs, type ImageDefinition, type RootfsEntry } from './image-definition.js';
import { toOciImage, toOciMetadata, type LayerCompression, type OciImage, type OciImageDigests } from './oci-image.js';
import { comparePaths, tarEnd, tarPadding, toTarHeader, type TarEntry } from './tar-writer.js';

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
 * The digests composeImage gives for `definition`, with the layer hashed as a stream: each host
 * file goes through a 1 MiB buffer into the hash, so memory holds that buffer instead of every file,
 * the layer and the archive (several copies of a 100 MB image). For a runtime that already holds
 * the image, this is all a build has to learn. A gzip layer's digest is that of the compressed
 * stream, so such an image is composed. Throws what composeImage throws.
 */
export async function digestImage(definition: ImageDefinition, options: ComposeImageOptions = {}): Promise<OciImageDigests> {
  const compression = options.compression ?? 'none';
  if (compression === 'gzip') {
    const { archive: _archive, ...digests } = await composeImage(definition, options);
    return digests;
  }
  // toNormalizedRootfs refuses a path listed twice, so the sorted tar paths are unique, as toTarBytes requires.
  const rootfs = toNormalizedRootfs(definition).sort((a, b) => comparePaths(a.path.slice(1), b.path.slice(1)));
  const hash = createHash('sha256');
  let size = 0;
  const update = (bytes: Uint8Array): void => {
    hash.update(bytes);
    size += bytes.byteLength;
  };
  for (const entry of rootfs) {
    const path = entry.path.slice(1);
    if (entry.type === 'directory') update(toTarHeader({ type: 'directory', path, mode: entry.mode }));
    else if (entry.type === 'symlink') update(toTarHeader({ type: 'symlink', path, target: entry.target }));
    else if ('hostPath' in entry.source) await hashHostFile(path, entry.mode, entry.path, entry.source.hostPath, update);
    else {
      const content = await readSource(entry.path, entry.source);
      update(toTarHeader({ type: 'file', path, mode: entry.mode, size: content.byteLength }));
      update(content);
      update(tarPadding(content.byteLength));
    }
  }
  update(tarEnd());
  const diffId = `sha256:${hash.digest('hex')}`;
  const input = { name: definition.name, config: definition.config, architecture: options.architecture ?? hostArchitecture(), compression };
  return toOciMetadata(input, { layerDigest: diffId, diffId, size }).digests;
}

const READ_BUFFER_BYTES = 1024 * 1024;

/** Header, content and padding of one host file, read in place; a file that changes size meanwhile fails the build. */
async function hashHostFile(path: string, mode: number, imagePath: string, hostPath: string, update: (bytes: Uint8Array) => void): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(hostPath, 'r');
  } catch (error) {
    throw cannotRead(hostPath, imagePath, error);
  }
  try {
    const { size } = await handle.stat();
    update(toTarHeader({ type: 'file', path, mode, size }));
    const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(size, READ_BUFFER_BYTES)));
    let position = 0;
    while (position < size) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.byteLength, size - position), position);
      if (bytesRead === 0) break;
      // hash.update copies what it is given, so the buffer can be read into again.
      update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    if (position !== size) throw cannotRead(hostPath, imagePath, new Error(`it shrank from ${size} to ${position} bytes while it was read`));
    update(tarPadding(size));
  } catch (error) {
    throw error instanceof CarapaceError ? error : cannotRead(hostPath, imagePath, error);
  } finally {
    await handle.close();
  }
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
    throw cannotRead(source.hostPath, imagePath, error);
  }
}

function cannotRead(hostPath: string, imagePath: string, cause: unknown): CarapaceError {
  return new CarapaceError('IMAGE_BUILD_FAILED', `cannot read ${hostPath} for ${imagePath}`, { cause, details: { hostPath, imagePath } });
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
