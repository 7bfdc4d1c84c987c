import { join } from 'node:path';
import { CarapaceError } from '../errors.js';
import { bundlePathFor } from './lock-file.js';
import { readTrustFile, writeTrustFile } from './trust-file.js';

/**
 * Sigstore bundles kept beside the lock (`<home>/bundles/sha256-<hex>.sigstore.json`), one per
 * signed manifest digest, so the start gate verifies offline. The file name is derived from the
 * digest; what the bundle itself claims to cover is never trusted to say which image it is for.
 */

/** A bundle as read from disk: its exact text (for the verification cache key) and its JSON. */
export interface BundleFile {
  readonly path: string;
  readonly text: string;
  readonly json: unknown;
}

/** Where the bundle of `digest` lives under `home`. */
export function bundleFileOf(home: string, digest: string): string {
  return join(home, bundlePathFor(digest));
}

/**
 * Reads the bundle of `digest`. A missing file is SIGNATURE_MISSING and text that is not JSON is
 * SIGNATURE_INVALID: either way the image does not run.
 */
export async function loadBundleFile(home: string, digest: string): Promise<BundleFile> {
  const path = bundleFileOf(home, digest);
  const text = await readTrustFile(path);
  if (text === undefined) throw new CarapaceError('SIGNATURE_MISSING', `no signature for ${digest}: ${path} does not exist`, { details: { digest, path } });
  try {
    return { path, text, json: JSON.parse(text) as unknown };
  } catch (error) {
    throw new CarapaceError('SIGNATURE_INVALID', `${path} is not JSON`, { cause: error, details: { digest, path } });
  }
}

/** Writes the bundle of `digest` (0600, atomic) and returns its path relative to the home, as the lock records it. */
export async function saveBundleFile(home: string, digest: string, bundle: unknown): Promise<string> {
  await writeTrustFile(bundleFileOf(home, digest), `${JSON.stringify(bundle)}\n`);
  return bundlePathFor(digest);
}
