import { readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { HomeLayout } from '../config/carapace-home.js';
import { homeLabels } from '../core/container-labels.js';
import { CarapaceError } from '../errors.js';
import { canaryImageDefinition } from '../images/canary-image.js';
import { composeImage } from '../images/image-builder.js';
import type { ContainerRuntime, ImageRemoval } from '../runtime/container-runtime.js';
import { removeContainers } from '../runtime/remove-containers.js';
import { loadLockFile } from '../trust/lock-file.js';
import { exists, type Installation } from './installation.js';

export interface UninstallContext {
  readonly installation: Installation;
  readonly layout: HomeLayout;
  /** The runtime, or why there is none: then containers and images stay, and the report says so. */
  readonly runtime: ContainerRuntime | { readonly unavailable: string };
  /** Also remove the Carapace home, credentials included. */
  readonly purge: boolean;
}

/** Something uninstall left in place: `failed` when it tried and could not, not when it chose to. */
export interface KeptItem {
  readonly what: string;
  readonly why: string;
  readonly failed: boolean;
}

export interface UninstallReport {
  readonly removedContainers: readonly string[];
  readonly removedImages: readonly string[];
  readonly removedPaths: readonly string[];
  readonly kept: readonly KeptItem[];
}

/**
 * Removes what Carapace put on this machine for one home: its containers, the images it pinned or
 * builds (the canary of this version too), the installation with its previous version and the
 * command link; with `purge`, the home itself. Images another container still uses (another home's)
 * stay, since they are shared, and are reported as kept. It carries on past a part it cannot remove
 * (an unreachable runtime, a refused request), reporting it as kept with `failed`.
 */
export async function uninstallInstallation(ctx: UninstallContext): Promise<UninstallReport> {
  const kept: KeptItem[] = [];
  const removedContainers: string[] = [];
  const removedImages: string[] = [];
  if ('unavailable' in ctx.runtime) {
    kept.push({ what: 'containers and images', why: `no container runtime reachable: ${ctx.runtime.unavailable}`, failed: true });
  } else {
    const runtime = ctx.runtime;
    try {
      removedContainers.push(...(await removeContainers(runtime, homeLabels(ctx.layout.home))));
    } catch (error) {
      kept.push({ what: `containers of ${ctx.layout.home}`, why: messageOf(error), failed: true });
    }
    for (const reference of await imagesToRemove(ctx.layout, kept)) {
      try {
        const removal = await removeImage(runtime, reference);
        if (removal === 'removed') removedImages.push(reference);
        if (removal === 'in-use') kept.push({ what: `image ${reference}`, why: 'another container still uses it (not one of this home\'s)', failed: false });
      } catch (error) {
        kept.push({ what: `image ${reference}`, why: messageOf(error), failed: true });
      }
    }
  }

  const removedPaths: string[] = [];
  for (const path of [ctx.installation.dir, ctx.installation.previousDir]) {
    if (await exists(path)) {
      await rm(path, { recursive: true, force: true });
      removedPaths.push(path);
    }
  }
  if (ctx.installation.commandLink !== undefined) {
    await unlink(ctx.installation.commandLink);
    removedPaths.push(ctx.installation.commandLink);
  }
  if (ctx.purge) {
    await rm(ctx.layout.home, { recursive: true, force: true });
    removedPaths.push(ctx.layout.home);
  } else if (await exists(ctx.layout.home)) {
    kept.push({ what: ctx.layout.home, why: await describeHome(ctx.layout), failed: false });
  }
  return { removedContainers, removedImages, removedPaths, kept };
}

/** Every pinned image by digest, and this version's canary (its tag is derived from its content). */
async function imagesToRemove(layout: HomeLayout, kept: KeptItem[]): Promise<string[]> {
  const references: string[] = [];
  try {
    const lock = await loadLockFile(layout.lockFile);
    for (const pin of Object.values(lock.plugins)) references.push(`${pin.image}@${pin.digest}`);
  } catch (error) {
    kept.push({ what: 'pinned plugin images', why: `${layout.lockFile} cannot be read: ${messageOf(error)}`, failed: true });
  }
  try {
    references.push((await composeImage(canaryImageDefinition())).reference);
  } catch (error) {
    kept.push({ what: 'the canary image', why: `its reference cannot be computed here: ${messageOf(error)}`, failed: true });
  }
  return references;
}

/**
 * Removes an image by its tags (a digest reference alone only drops that name on some runtimes),
 * then by id if it is still there; never forced, so an image another container uses stays.
 */
async function removeImage(runtime: ContainerRuntime, reference: string): Promise<ImageRemoval> {
  const found = await runtime.findImage(reference);
  if (found === undefined) return 'absent';
  for (const tag of found.tags) {
    if ((await runtime.removeImage(tag)) === 'in-use') return 'in-use';
  }
  if ((await runtime.findImage(found.id)) === undefined) return 'removed';
  const last = await runtime.removeImage(found.id);
  return last === 'absent' ? 'removed' : last;
}

async function describeHome(layout: HomeLayout): Promise<string> {
  let credentials = 0;
  for (const plugin of await readdir(layout.credentials).catch(() => [] as string[])) {
    credentials += (await readdir(join(layout.credentials, plugin)).catch(() => [] as string[])).length;
  }
  const parts = [
    'config.toml',
    `credentials/ (${credentials} stored credential${credentials === 1 ? '' : 's'})`,
    'the audit log',
    'plugin storage',
    'the trust policy and local signing key',
    'carapace.lock',
  ];
  return `your data stays unless you pass --purge: ${parts.join(', ')}`;
}

function messageOf(error: unknown): string {
  if (error instanceof CarapaceError) return `${error.message} [${error.code}]`;
  return error instanceof Error ? error.message : String(error);
}
