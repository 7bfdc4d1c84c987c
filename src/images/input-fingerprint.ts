import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fileFingerprint, memoKey } from './build-memo.js';
import { toNormalizedRootfs, type ImageConfig, type ImageDefinition } from './image-definition.js';

/** Bumped when the fingerprint's own layout changes, so old memo entries can never match. */
const FINGERPRINT_LAYOUT = 'carapace-image-inputs/1';

/**
 * The modules that decide the image's bytes (with tar's, below). Their fingerprints are part of
 * every image's, so a builder that changed (an update, a rebuilt tree) never reuses a digest the old
 * one computed.
 */
const BUILDER_MODULES = ['image-builder', 'oci-image', 'tar-writer', 'image-definition', 'input-fingerprint'];

export interface ImageInputOptions {
  readonly architecture?: string;
  readonly compression?: string;
  /** The builder's version as its caller knows it (Carapace's version). */
  readonly builderVersion?: string;
}

/**
 * A fingerprint of everything `composeImage` reads for `definition`, computed without reading a
 * single file's content: the definition itself (names, paths, modes, config, inline content), the
 * architecture and compression, the builder's version and modules, and the fingerprint (inode,
 * size, mtime, ctime, see fileFingerprint) of every host file the layer copies. Two calls give the
 * same answer only if no input changed; a memo keyed by it can then hand back the digests the last
 * composition computed. Undefined when a host file cannot be looked at: compose, which says why.
 * Throws what composeImage throws for an invalid definition.
 */
export function fingerprintImageInputs(definition: ImageDefinition, options: ImageInputOptions = {}): string | undefined {
  const rootfs = toNormalizedRootfs(definition);
  const builderPaths = [...BUILDER_MODULES.map((module) => join(MODULE_DIR, `${module}${MODULE_EXTENSION}`)), TAR_ENTRY];
  const hostPaths = [
    ...builderPaths,
    ...rootfs.flatMap((entry) => (entry.type === 'file' && 'hostPath' in entry.source ? [entry.source.hostPath] : [])),
  ];
  const prints = hostPaths.map(fileFingerprint);
  if (prints.some((print) => print === undefined)) return undefined;
  const printOf = new Map(hostPaths.map((path, index) => [path, prints[index] as string]));

  const parts: (string | Uint8Array)[] = [
    options.builderVersion ?? '',
    ...builderPaths.map((path) => printOf.get(path) ?? ''),
    definition.name,
    canonicalConfig(definition.config),
    options.architecture ?? process.arch,
    options.compression ?? 'none',
  ];
  for (const entry of rootfs) {
    parts.push(entry.type, entry.path);
    if (entry.type === 'symlink') {
      parts.push(entry.target);
      continue;
    }
    parts.push(String(entry.mode));
    if (entry.type !== 'file') continue;
    if ('hostPath' in entry.source) parts.push('host', entry.source.hostPath, printOf.get(entry.source.hostPath) ?? '');
    else parts.push('inline', entry.source.content);
  }
  return memoKey(FINGERPRINT_LAYOUT, parts);
}

/** The config with a fixed key order and sorted labels, so a definition read back from JSON prints alike. */
function canonicalConfig(config: ImageConfig): string {
  const labels = Object.entries(config.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([config.entrypoint ?? null, config.cmd ?? null, config.workdir, config.path, labels]);
}

// The builder's own files sit beside this one: .ts under vitest, .js after tsc.
const MODULE_PATH = fileURLToPath(import.meta.url);
const MODULE_DIR = join(MODULE_PATH, '..');
const MODULE_EXTENSION = extname(MODULE_PATH);
// tar's header encoder writes every header; its installed file moves with its version.
const TAR_ENTRY = createRequire(import.meta.url).resolve('tar');
