import { execFile } from 'node:child_process';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { x as extract, type ReadEntry } from 'tar';
import { CarapaceError } from '../errors.js';
import { verifyArtifactSignature, type VerifiedArtifact } from '../trust/artifact-signature.js';
import type { RevocationList } from '../trust/revocation-list.js';
import type { TrustPolicy } from '../trust/trust-policy.js';
import { parseReleaseManifest, type ReleaseArtifact, type ReleaseManifest } from './release-manifest.js';
import type { ReleaseSource } from './release-source.js';

const execFileAsync = promisify(execFile);

const MAX_MANIFEST_BYTES = 1024 * 1024;
const MAX_BUNDLE_BYTES = 1024 * 1024;

/** Who may sign releases, and what is revoked: the release key pinned in config, the home's revocations. */
export interface ReleaseTrust {
  readonly policy: TrustPolicy;
  readonly revocations: RevocationList;
}

export interface VerifiedManifest {
  readonly manifest: ReleaseManifest;
  readonly signer: VerifiedArtifact['signer'];
}

/** Fetches release.json and its bundle, and verifies the signature before parsing anything in it. */
export async function fetchVerifiedManifest(source: ReleaseSource, trust: ReleaseTrust): Promise<VerifiedManifest> {
  const bytes = await source.readBytes('release.json', MAX_MANIFEST_BYTES);
  const bundle = parseBundleJson(await source.readBytes('release.json.sigstore.json', MAX_BUNDLE_BYTES), 'release.json.sigstore.json');
  const verified = verifyArtifactSignature({ artifact: bytes, bundle, ...trust });
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new CarapaceError('RELEASE_INVALID', `${source.url}release.json is not JSON`, { cause: error });
  }
  return { manifest: parseReleaseManifest(json, `${source.url}release.json`), signer: verified.signer };
}

export interface StageReleaseOptions {
  readonly source: ReleaseSource;
  readonly manifest: ReleaseManifest;
  readonly artifact: ReleaseArtifact;
  readonly trust: ReleaseTrust;
  /** A fresh directory beside the installation. */
  readonly stagingDir: string;
  /** The Node.js the installation runs on (the wrapper's), to check the new tree with. */
  readonly nodePath: string;
  readonly onProgress?: (line: string) => void;
}

/**
 * Downloads the release's tarball into `stagingDir`, checks its size and SHA-256 against the signed
 * manifest and its own bundle against the release key, extracts it, and checks that the new CLI
 * starts as the manifest's version with its native addons loading on this Node.js. Returns the
 * extracted tree; nothing outside `stagingDir` is touched.
 */
export async function stageRelease(options: StageReleaseOptions): Promise<string> {
  const { source, manifest, artifact, trust, stagingDir } = options;
  const downloads = join(stagingDir, 'download');
  await mkdir(downloads, { mode: 0o700 });
  const tarball = join(downloads, artifact.name);
  options.onProgress?.(`downloading ${artifact.name} (${(artifact.size / 1024 / 1024).toFixed(1)} MB)`);
  const got = await source.download(artifact.name, tarball, artifact.size);
  if (got.size !== artifact.size || got.sha256 !== artifact.sha256) {
    throw new CarapaceError('RELEASE_DIGEST_MISMATCH', `${artifact.name} does not match the signed release.json (got sha256 ${got.sha256}, ${got.size} bytes; expected ${artifact.sha256}, ${artifact.size} bytes)`, {
      details: { artifact: artifact.name, expected: artifact.sha256, actual: got.sha256 },
    });
  }
  const bundle = parseBundleJson(await source.readBytes(artifact.bundle, MAX_BUNDLE_BYTES), artifact.bundle);
  verifyArtifactSignature({ artifact: await readFile(tarball), bundle, ...trust });

  const top = `carapace-${manifest.version}`;
  const treeParent = join(stagingDir, 'tree');
  await mkdir(treeParent, { mode: 0o700 });
  options.onProgress?.(`extracting ${artifact.name}`);
  await extractInside(tarball, treeParent, top);
  const tree = join(treeParent, top);
  await verifyStagedTree(tree, manifest.version, options.nodePath);
  return tree;
}

/**
 * Extracts only what stays inside `top/`: regular files, directories and symlinks whose target
 * resolves inside the tree. The tarball verified already; this keeps even a release built wrongly
 * from writing beside the installation.
 */
async function extractInside(tarball: string, cwd: string, top: string): Promise<void> {
  const refused: string[] = [];
  const inside = (path: string): boolean => path === top || path.startsWith(`${top}/`);
  const allowed = (path: string, entry: ReadEntry): boolean => {
    const normalized = posix.normalize(path).replace(/\/$/, '');
    if (!inside(normalized) || posix.isAbsolute(path) || path.split('/').includes('..')) return false;
    if (entry.type === 'File' || entry.type === 'Directory') return true;
    if (entry.type !== 'SymbolicLink' || entry.linkpath === undefined || posix.isAbsolute(entry.linkpath)) return false;
    return inside(posix.normalize(posix.join(posix.dirname(normalized), entry.linkpath)));
  };
  try {
    await extract({
      file: tarball,
      cwd,
      strict: true,
      preserveOwner: false,
      filter: (path, entry) => {
        const read = entry as ReadEntry;
        const ok = allowed(path, read);
        if (!ok) refused.push(path);
        // The installation is its user's alone, as install.sh's umask 077 makes it.
        if (read.mode !== undefined) read.mode &= 0o700;
        return ok;
      },
    });
  } catch (error) {
    throw new CarapaceError('RELEASE_INVALID', `cannot extract ${tarball}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (refused.length > 0) {
    throw new CarapaceError('RELEASE_INVALID', `the tarball has entries outside ${top}/ or of other kinds: ${refused.slice(0, 5).join(', ')}`, {
      details: { refused: refused.slice(0, 20) },
    });
  }
}

/** The new tree must start as the version the manifest names, with its native addons loading here. */
async function verifyStagedTree(tree: string, version: string, nodePath: string): Promise<void> {
  const main = join(tree, 'dist', 'cli', 'main.js');
  if ((await stat(main).catch(() => undefined))?.isFile() !== true) throw new CarapaceError('RELEASE_INVALID', `the release has no dist/cli/main.js`);
  let reported: string;
  try {
    reported = (await execFileAsync(nodePath, [main, '--version'], { cwd: tree, timeout: 60_000 })).stdout.trim();
  } catch (error) {
    throw new CarapaceError('RELEASE_INVALID', `the new Carapace does not start on ${nodePath}`, { cause: error });
  }
  if (reported !== version) throw new CarapaceError('RELEASE_INVALID', `the new Carapace reports version ${JSON.stringify(reported)}, the manifest says ${version}`);
  try {
    await execFileAsync(nodePath, ['-e', 'new (require("better-sqlite3"))(":memory:").close(); require("zeromq")'], { cwd: tree, timeout: 60_000 });
  } catch (error) {
    throw new CarapaceError('RELEASE_INVALID', `the new release's native addons do not load on ${nodePath}`, { cause: error });
  }
}

function parseBundleJson(bytes: Buffer, name: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new CarapaceError('SIGNATURE_INVALID', `${name} is not JSON`, { cause: error });
  }
}
