import { list, type ReadEntry } from 'tar';
import { CarapaceError } from '../errors.js';

/** Where a plugin image carries its Carapace manifest and skills. */
export const CARAPACE_IMAGE_DIR = 'carapace';
export const CARAPACE_MANIFEST_PATH = `${CARAPACE_IMAGE_DIR}/manifest.json`;

const MAX_FILE_BYTES = 1024 * 1024;
const MAX_TOTAL_BYTES = 8 * 1024 * 1024;
const MAX_FILES = 256;

/** The files under /carapace in an image, by path relative to /carapace (`manifest.json`, `skills/x.md`). */
export type CarapaceFiles = ReadonlyMap<string, Buffer>;

/**
 * Reads /carapace/** out of an image's layer tarballs (plain or gzip), applying them in order as a
 * runtime would: a later layer's file replaces an earlier one, and whiteouts delete. Only regular
 * files count; a link under /carapace is refused, since its content would come from elsewhere in
 * the image (or the host, for a careless extractor). Call it on layers whose digests were checked.
 */
export async function readCarapaceFiles(layerFiles: readonly string[]): Promise<CarapaceFiles> {
  const files = new Map<string, Buffer>();
  for (const file of layerFiles) {
    const found = new Map<string, Buffer>();
    const whiteouts: string[] = [];
    const problems: string[] = [];
    await list({
      file,
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const path = toImagePath(entry.path);
        const base = path?.slice(path.lastIndexOf('/') + 1);
        if (path === undefined || !(path === CARAPACE_IMAGE_DIR || path.startsWith(`${CARAPACE_IMAGE_DIR}/`) || isWhiteoutOf(path))) {
          entry.resume();
          return;
        }
        if (base?.startsWith('.wh.') === true) {
          whiteouts.push(path);
          entry.resume();
          return;
        }
        if (entry.type === 'Directory') {
          entry.resume();
          return;
        }
        if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') {
          problems.push(`/${path} is a ${entry.type}, not a regular file`);
          entry.resume();
          return;
        }
        if (entry.size > MAX_FILE_BYTES) {
          problems.push(`/${path} is ${String(entry.size)} bytes, more than ${String(MAX_FILE_BYTES)}`);
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        entry.on('data', (chunk: Buffer) => chunks.push(chunk));
        entry.on('end', () => found.set(path.slice(CARAPACE_IMAGE_DIR.length + 1), Buffer.concat(chunks)));
      },
    }).catch((error: unknown) => {
      throw new CarapaceError('MANIFEST_INVALID', `cannot read the image layer ${file}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
        details: { layer: file },
      });
    });
    if (problems.length > 0) {
      throw new CarapaceError('MANIFEST_INVALID', `the image's /${CARAPACE_IMAGE_DIR}: ${problems.join('; ')}`, { details: { problems } });
    }
    for (const whiteout of whiteouts) applyWhiteout(files, whiteout);
    for (const [path, content] of found) files.set(path, content);
  }
  const total = [...files.values()].reduce((sum, content) => sum + content.byteLength, 0);
  if (files.size > MAX_FILES || total > MAX_TOTAL_BYTES) {
    throw new CarapaceError('MANIFEST_INVALID', `the image's /${CARAPACE_IMAGE_DIR} holds ${String(files.size)} files, ${String(total)} bytes: too much`, {
      details: { files: files.size, bytes: total },
    });
  }
  return files;
}

/** A layer path as an image path without leading `/` or `./`; undefined for one that climbs out. */
function toImagePath(raw: string): string | undefined {
  const path = raw.replace(/^(?:\.?\/)+/, '').replace(/\/+$/, '');
  return path.split('/').some((segment) => segment === '..') ? undefined : path;
}

/** `.wh.carapace` (at the root) deletes /carapace itself. */
function isWhiteoutOf(path: string): boolean {
  return path === `.wh.${CARAPACE_IMAGE_DIR}` || path === '.wh..wh..opq';
}

function applyWhiteout(files: Map<string, Buffer>, whiteout: string): void {
  const slash = whiteout.lastIndexOf('/');
  const dir = slash === -1 ? '' : whiteout.slice(0, slash);
  const name = whiteout.slice(slash + 1).slice('.wh.'.length);
  // Paths in `files` are relative to /carapace; whiteout paths are relative to the image root.
  const prefix = dir === '' ? '' : `${dir}/`;
  const relative = (path: string): string => `${CARAPACE_IMAGE_DIR}/${path}`;
  for (const path of [...files.keys()]) {
    const full = relative(path);
    const opaque = name === '.wh..opq' && full.startsWith(prefix);
    const named = full === `${prefix}${name}` || full.startsWith(`${prefix}${name}/`);
    if (opaque || named) files.delete(path);
  }
}
