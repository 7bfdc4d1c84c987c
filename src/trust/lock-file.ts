import { z } from 'zod';
import { CarapaceError } from '../errors.js';
import { IDENTIFIER_PATTERN } from '../wire/names.js';
import { withFileGuard } from './file-guard.js';
import { MANIFEST_DIGEST_PATTERN } from './signed-payload.js';
import { readTrustFile, writeTrustFile } from './trust-file.js';

/**
 * `carapace.lock`: every plugin image pinned by the sha256 digest of its OCI manifest, with the
 * Sigstore bundle that signs that digest kept beside it (`bundles/`, relative to the home), so the
 * start gate needs no network. A tag is never recorded: what runs is named by content only.
 */
export interface LockFile {
  readonly version: 1;
  readonly plugins: Readonly<Record<string, PinnedImage>>;
}

export interface PinnedImage {
  /** The repository, without tag or digest (`localhost/carapace/plugin-echo`). */
  readonly image: string;
  /** `sha256:<hex>` of the image's OCI manifest. */
  readonly digest: string;
  /** The bundle's path relative to the home: `bundles/sha256-<hex>.sigstore.json`. */
  readonly bundle: string;
  /** When it was pinned (ISO 8601). */
  readonly pinnedAt: string;
}

export const EMPTY_LOCK: LockFile = { version: 1, plugins: {} };

// The distribution grammar's repository: optional registry host[:port], then lower-case path
// components; no tag and no digest, since the lock pins by content alone.
const REPOSITORY_PATTERN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const BUNDLE_PATTERN = /^bundles\/sha256-([0-9a-f]{64})\.sigstore\.json$/;

const PinnedImageSchema = z
  .strictObject({
    image: z.string().max(255).regex(REPOSITORY_PATTERN, 'must be a repository without tag or digest'),
    digest: z.string().regex(MANIFEST_DIGEST_PATTERN, 'must be sha256:<64 lower-case hex>'),
    // The path is joined to the home by the gate: anything but the one name derived from the digest
    // could point it at a file outside bundles/ or at another image's signature.
    bundle: z.string().regex(BUNDLE_PATTERN, 'must be bundles/sha256-<hex>.sigstore.json'),
    pinnedAt: z.iso.datetime({ offset: true }),
  })
  .superRefine((pin, ctx) => {
    // Only when both fields are well-formed: a bad one is reported once, on its own.
    if (MANIFEST_DIGEST_PATTERN.test(pin.digest) && BUNDLE_PATTERN.test(pin.bundle) && pin.bundle !== bundlePathFor(pin.digest)) ctx.addIssue({ code: 'custom', path: ['bundle'], message: `must be ${bundlePathFor(pin.digest)}, the bundle of the pinned digest` });
  });

const LockFileSchema = z.strictObject({
  version: z.literal(1),
  plugins: z.record(z.string().regex(IDENTIFIER_PATTERN, 'must be a plugin name'), PinnedImageSchema),
});

/**
 * The bundle's path relative to the home, derived from the digest it signs. The digest may come
 * from a command line, so anything but sha256 hex is refused before it becomes part of a path.
 */
export function bundlePathFor(digest: string): string {
  if (!MANIFEST_DIGEST_PATTERN.test(digest)) {
    throw new CarapaceError('IMAGE_REFERENCE_INVALID', `not a manifest digest (sha256:<64 lower-case hex>): ${JSON.stringify(digest.slice(0, 100))}`);
  }
  return `bundles/${digest.replace(':', '-')}.sigstore.json`;
}

/** `localhost/x/y:tag` or `localhost/x/y@sha256:...` to `localhost/x/y` (a registry port is kept). */
export function toRepository(reference: string): string {
  const withoutDigest = reference.split('@')[0] ?? reference;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.indexOf(':', lastSlash + 1);
  return colon === -1 ? withoutDigest : withoutDigest.slice(0, colon);
}

/** Narrows parsed JSON to a lock; LOCK_INVALID names the file and every bad field. */
export function parseLockFile(json: unknown, file: string): LockFile {
  const result = LockFileSchema.safeParse(json);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.length === 0 ? '(root)' : issue.path.join('.')}: ${issue.message}`);
  throw new CarapaceError('LOCK_INVALID', `${file} is invalid: ${problems.join('; ')}`, { details: { file, problems } });
}

/** Reads the lock; a missing file is an empty lock (nothing pinned, so nothing but first-start built-ins runs). */
export async function loadLockFile(file: string): Promise<LockFile> {
  const text = await readTrustFile(file);
  if (text === undefined) return EMPTY_LOCK;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CarapaceError('LOCK_INVALID', `${file} is not JSON: ${error instanceof Error ? error.message : String(error)}`, { cause: error, details: { file } });
  }
  return parseLockFile(json, file);
}

/** Writes the lock atomically, 0600, entries sorted so the file diffs cleanly. */
export async function saveLockFile(file: string, lock: LockFile): Promise<void> {
  const checked = parseLockFile(lock, file);
  const plugins = Object.fromEntries(Object.keys(checked.plugins).sort().map((name) => [name, checked.plugins[name]]));
  await writeTrustFile(file, `${JSON.stringify({ version: 1, plugins }, null, 2)}\n`);
}

/** The pin of `plugin`, if any. */
export function pinOf(lock: LockFile, plugin: string): PinnedImage | undefined {
  return Object.hasOwn(lock.plugins, plugin) ? lock.plugins[plugin] : undefined;
}

/** A new lock with `plugin` pinned to `pin` (replacing an earlier pin). */
export function withPin(lock: LockFile, plugin: string, pin: PinnedImage): LockFile {
  return { version: 1, plugins: { ...lock.plugins, [plugin]: pin } };
}

/**
 * Read-modify-write of the lock, one writer at a time (`withFileGuard`): plugins pin in parallel at
 * a first start, and `carapace image build` or `plugin add` may run beside a core.
 */
export async function updateLockFile(file: string, change: (lock: LockFile) => LockFile | Promise<LockFile>): Promise<LockFile> {
  return withFileGuard(file, async () => {
    const next = await change(await loadLockFile(file));
    await saveLockFile(file, next);
    return next;
  });
}
