import { chmod, copyFile, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { HomeLayout } from '../config/carapace-home.js';
import { CarapaceError } from '../errors.js';
import type { VerifiedArtifact } from '../trust/artifact-signature.js';
import { snapshotPins } from './home-pins.js';
import { exists, type Installation } from './installation.js';
import { compareVersions, currentPlatform, selectArtifact, type Platform, type ReleaseArtifact, type ReleaseManifest } from './release-manifest.js';
import type { ReleaseSource } from './release-source.js';
import { fetchVerifiedManifest, stageRelease, type ReleaseTrust } from './stage-release.js';

/** What a command of the installed Carapace printed and how it ended. */
export interface CommandOutcome {
  readonly code: number | null;
  readonly output: string;
}

export interface UpdateContext {
  readonly installation: Installation;
  readonly layout: HomeLayout;
  readonly source: ReleaseSource;
  readonly trust: ReleaseTrust;
  /** The Node.js the installation runs on: the wrapper pins it, and the new tree is checked with it. */
  readonly nodePath: string;
  readonly platform?: Platform;
  /** Runs the installed `bin/carapace` with these arguments (for the new version's checks). */
  readonly runInstalled: (args: readonly string[]) => Promise<CommandOutcome>;
  readonly onProgress?: (line: string) => void;
  /** Aborting before the new version is in place stops cleanly; after, the update finishes or rolls back. */
  readonly signal?: AbortSignal;
}

export interface UpdateCheck {
  readonly current: string;
  readonly manifest: ReleaseManifest;
  readonly artifact: ReleaseArtifact;
  readonly signer: VerifiedArtifact['signer'];
  /** The release is newer than the installed version. */
  readonly newer: boolean;
}

/** Fetches and verifies release.json, and says whether it is newer than what is installed. Changes nothing. */
export async function checkForUpdate(ctx: UpdateContext): Promise<UpdateCheck> {
  const { manifest, signer } = await fetchVerifiedManifest(ctx.source, ctx.trust);
  const artifact = selectArtifact(manifest, ctx.platform ?? currentPlatform());
  return { current: ctx.installation.version, manifest, artifact, signer, newer: compareVersions(manifest.version, ctx.installation.version) > 0 };
}

/** After the swap, in order: re-pin the built-in images the new version builds, then its doctor. */
const POST_INSTALL_STEPS: readonly (readonly string[])[] = [['image', 'build'], ['doctor']];

export interface UpdateResult {
  readonly from: string;
  readonly to: string;
}

/**
 * Installs the release `check` found, transactionally: download, verify and extract into a staging
 * directory beside the installation; swap it in (the old version becomes carapace.previous); run
 * the new version's `image build` and `doctor`. If either fails, the old version and the home's
 * pins are put back and UPDATE_FAILED says why; if putting them back fails too,
 * UPDATE_ROLLBACK_FAILED says what is where. A refusal before the swap changes nothing.
 */
export async function applyUpdate(ctx: UpdateContext, check: UpdateCheck): Promise<UpdateResult> {
  if (!check.newer) {
    throw new CarapaceError('RELEASE_INVALID', `release ${check.manifest.version} is not newer than the installed ${check.current}; Carapace never updates backwards`);
  }
  const { installation } = ctx;
  const staging = await mkdtemp(join(installation.libDir, '.carapace-update-'));
  // Kept only when a rollback failed: it may then hold the only copy of one of the versions.
  let keepStaging = false;
  try {
    const tree = await stageRelease({
      source: ctx.source,
      manifest: check.manifest,
      artifact: check.artifact,
      trust: ctx.trust,
      stagingDir: staging,
      nodePath: ctx.nodePath,
      ...(ctx.onProgress === undefined ? {} : { onProgress: ctx.onProgress }),
    });
    // The wrapper names the installation's path and its Node.js, both unchanged by an update.
    await mkdir(join(tree, 'bin'), { recursive: true, mode: 0o700 });
    await copyFile(installation.wrapper, join(tree, 'bin', 'carapace'));
    await chmod(join(tree, 'bin', 'carapace'), 0o700);
    if (ctx.signal?.aborted === true) throw new CarapaceError('UPDATE_FAILED', 'interrupted before the new version was put in place; nothing changed');

    const pins = await snapshotPins(ctx.layout);
    const olderPrevious = join(staging, 'older-previous');
    const failed = join(staging, 'failed');
    if (await exists(installation.previousDir)) await rename(installation.previousDir, olderPrevious);
    await rename(installation.dir, installation.previousDir);
    try {
      await rename(tree, installation.dir);
    } catch (error) {
      await rename(installation.previousDir, installation.dir);
      if (await exists(olderPrevious)) await rename(olderPrevious, installation.previousDir);
      throw new CarapaceError('UPDATE_FAILED', `could not move the new version into ${installation.dir}; nothing changed`, { cause: error });
    }
    ctx.onProgress?.(`installed ${check.manifest.version} in ${installation.dir}; ${check.current} kept in ${installation.previousDir}`);

    const failure = await runPostInstall(ctx);
    if (failure === undefined) return { from: check.current, to: check.manifest.version };

    ctx.onProgress?.(`${failure.step} failed with ${check.manifest.version}; rolling back to ${check.current}`);
    try {
      await rename(installation.dir, failed);
      await rename(installation.previousDir, installation.dir);
      if (await exists(olderPrevious)) await rename(olderPrevious, installation.previousDir);
      await pins.restore();
    } catch (error) {
      keepStaging = true;
      throw new CarapaceError(
        'UPDATE_ROLLBACK_FAILED',
        `${failure.step} failed with ${check.manifest.version}, and the rollback failed too: ${error instanceof Error ? error.message : String(error)}. ` +
          `The old version is in ${installation.previousDir} or ${installation.dir}, the new one in ${installation.dir} or ${failed}; run install.sh again to repair`,
        { cause: error, details: { staging } },
      );
    }
    throw new CarapaceError('UPDATE_FAILED', `${failure.step} failed with ${check.manifest.version}; rolled back to ${check.current}:\n${failure.output.trim()}`, {
      details: { from: check.current, to: check.manifest.version, step: failure.step, code: failure.code },
    });
  } finally {
    if (!keepStaging) await rm(staging, { recursive: true, force: true });
  }
}

async function runPostInstall(ctx: UpdateContext): Promise<{ step: string; code: number | null; output: string } | undefined> {
  for (const args of POST_INSTALL_STEPS) {
    const step = `carapace ${args.join(' ')}`;
    ctx.onProgress?.(`running ${step} with the new version`);
    const outcome = await ctx.runInstalled(args);
    if (outcome.code !== 0) return { step, code: outcome.code, output: outcome.output };
  }
  return undefined;
}
