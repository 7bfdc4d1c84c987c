import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HomeLayout } from '../config/carapace-home.js';

/**
 * What an update changes in the Carapace home: the new version rebuilds the built-in plugin images
 * (`carapace image build`), which re-pins them in carapace.lock and writes their bundles. A
 * rollback to the old version needs the old pins back, or its next start would refuse its own
 * images (IMAGE_DIGEST_MISMATCH). This is a byte copy of exactly those files.
 */
export interface PinsSnapshot {
  /** Puts carapace.lock and bundles/ back exactly as they were when the snapshot was taken. */
  restore(): Promise<void>;
}

export async function snapshotPins(layout: HomeLayout): Promise<PinsSnapshot> {
  const lock = await readIfPresent(layout.lockFile);
  const bundles = new Map<string, Buffer>();
  for (const name of await listFiles(layout.bundlesDir)) bundles.set(name, await readFile(join(layout.bundlesDir, name)));
  return {
    async restore() {
      if (lock === undefined) await rm(layout.lockFile, { force: true });
      else await replaceFile(layout.lockFile, lock);
      for (const name of await listFiles(layout.bundlesDir)) {
        if (!bundles.has(name)) await rm(join(layout.bundlesDir, name), { force: true });
      }
      for (const [name, bytes] of bundles) await replaceFile(join(layout.bundlesDir, name), bytes);
    },
  };
}

async function readIfPresent(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function listFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => entry.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Write beside, then rename: a reader never sees half a lock file. */
async function replaceFile(file: string, bytes: Buffer): Promise<void> {
  const temporary = `${file}.${randomBytes(6).toString('hex')}.restore`;
  await writeFile(temporary, bytes, { mode: 0o600, flag: 'wx' });
  await rename(temporary, file);
}
