import { z } from 'zod';
import { CarapaceError } from '../errors.js';

/**
 * `release.json`, as scripts/release.sh writes it: what a release contains, for `carapace update`.
 * It is parsed only after its signature verified, but still strictly: a file name from it becomes
 * a path on disk and part of a URL, so names are plain file names and nothing else.
 */

const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$/;
const VERSION = /^(\d{1,9})\.(\d{1,9})\.(\d{1,9})(?:-([0-9A-Za-z.-]{1,64}))?(?:\+[0-9A-Za-z.-]{1,64})?$/;

const ArtifactSchema = z.strictObject({
  name: z.string().regex(FILE_NAME, 'must be a plain file name'),
  os: z.string().regex(/^[a-z0-9]{1,20}$/),
  arch: z.string().regex(/^[a-z0-9]{1,20}$/),
  node: z.number().int().min(1).max(1000),
  nodeModules: z.number().int().min(1).max(100_000),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
  size: z.number().int().min(1).max(4 * 1024 * 1024 * 1024),
  bundle: z.string().regex(FILE_NAME, 'must be a plain file name'),
});

const ReleaseManifestSchema = z.strictObject({
  schema: z.literal(1),
  name: z.literal('carapace'),
  version: z.string().regex(VERSION, 'must be a version like 1.2.3'),
  created: z.iso.datetime({ offset: true }),
  source: z.strictObject({ commit: z.string().regex(/^[0-9a-f]{40}$/), dirty: z.boolean().nullable() }),
  releaseKey: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  artifacts: z.array(ArtifactSchema).min(1).max(64),
});

export type ReleaseManifest = z.output<typeof ReleaseManifestSchema>;
export type ReleaseArtifact = z.output<typeof ArtifactSchema>;

/** What a tarball must have been built for to run here: the native addons fix all three. */
export interface Platform {
  readonly os: string;
  readonly arch: string;
  /** `process.versions.modules`: the Node ABI the addons were compiled against. */
  readonly nodeModules: number;
}

export function currentPlatform(): Platform {
  return { os: process.platform, arch: process.arch, nodeModules: Number(process.versions.modules) };
}

/** Narrows release.json's parsed JSON; RELEASE_INVALID naming every bad field. */
export function parseReleaseManifest(json: unknown, source: string): ReleaseManifest {
  const result = ReleaseManifestSchema.safeParse(json);
  if (result.success) return result.data;
  const fields = result.error.issues.map((issue) => `${issue.path.join('.') || '(file)'}: ${issue.message}`);
  throw new CarapaceError('RELEASE_INVALID', `${source} is not a valid release manifest: ${fields.join('; ')}`, { details: { source, fields } });
}

/** The tarball built for `platform`; RELEASE_UNAVAILABLE when the release has none. */
export function selectArtifact(manifest: ReleaseManifest, platform: Platform): ReleaseArtifact {
  const matches = manifest.artifacts.filter(
    (artifact) => artifact.os === platform.os && artifact.arch === platform.arch && artifact.nodeModules === platform.nodeModules,
  );
  if (matches.length === 1) return matches[0]!;
  const wanted = `${platform.os}-${platform.arch} (Node ABI ${platform.nodeModules})`;
  if (matches.length > 1) throw new CarapaceError('RELEASE_INVALID', `release ${manifest.version} lists more than one tarball for ${wanted}`);
  const offered = manifest.artifacts.map((artifact) => `${artifact.os}-${artifact.arch}-node${artifact.node}`).join(', ');
  throw new CarapaceError('RELEASE_UNAVAILABLE', `release ${manifest.version} has no tarball for ${wanted}; it offers ${offered}`, {
    details: { version: manifest.version, platform: wanted },
  });
}

/**
 * Orders two versions (`1.2.3`, `1.2.3-rc.1`): negative if `a` is older. Pre-releases sort before
 * their release and by their dot-separated fields; build metadata is ignored, as semver says.
 */
export function compareVersions(a: string, b: string): number {
  const left = VERSION.exec(a);
  const right = VERSION.exec(b);
  if (left === null || right === null) throw new CarapaceError('RELEASE_INVALID', `cannot compare versions ${JSON.stringify(a)} and ${JSON.stringify(b)}`);
  for (let index = 1; index <= 3; index += 1) {
    const difference = Number(left[index]) - Number(right[index]);
    if (difference !== 0) return Math.sign(difference);
  }
  return comparePrerelease(left[4], right[4]);
}

function comparePrerelease(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  const left = a.split('.');
  const right = b.split('.');
  for (let index = 0; index < Math.max(left.length, right.length); index += 1) {
    const x = left[index];
    const y = right[index];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    const numeric = /^\d+$/.test(x) && /^\d+$/.test(y);
    if (numeric) return Math.sign(Number(x) - Number(y));
    if (/^\d+$/.test(x)) return -1;
    if (/^\d+$/.test(y)) return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}
