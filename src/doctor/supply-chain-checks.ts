import { lstat } from 'node:fs/promises';
import type { HomeLayout } from '../config/carapace-home.js';
import { describeSigner, verifyPinnedSignature } from '../daemon/image-signature.js';
import { loadPluginCatalog, type CatalogedPlugin } from '../daemon/plugin-catalog.js';
import { verifyRuntimeImage } from '../daemon/plugin-images.js';
import { pluginSources } from '../daemon/plugin-sources.js';
import { toCarapaceError } from '../errors.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { loadLockFile, pinOf, type LockFile } from '../trust/lock-file.js';
import { loadRevocationList } from '../trust/revocation-list.js';
import { fail, info, pass, type CheckLine } from './check-line.js';

const IMAGE = 'Container image';
const SIGNATURE = 'Cosign signature';

/**
 * `Revocation list: loaded`: the list parses, or there is none (nothing revoked). A list that does
 * not parse fails here, as it would fail every start.
 */
export async function checkRevocationList(layout: HomeLayout): Promise<CheckLine> {
  try {
    const present = await exists(layout.revocationFile);
    const list = await loadRevocationList(layout.revocationFile);
    if (!present) return pass('Revocation list', `loaded: none (${layout.revocationFile} is absent: nothing is revoked)`);
    return pass('Revocation list', `loaded: ${list.keys.length} keys, ${list.identities.length} identities, ${list.digests.length} digests revoked (${layout.revocationFile})`);
  } catch (error) {
    return fail('Revocation list', describe(error));
  }
}

/**
 * Per plugin, what the start gate would decide, without starting anything: `Container image:
 * digest matches config` (the runtime holds the digest the lock pins) and `Cosign signature:
 * verified` (its bundle verifies against the policy and revocations). A built-in that is not
 * pinned yet is only reported: the first start pins it.
 */
export async function runSupplyChainChecks(runtime: ContainerRuntime, layout: HomeLayout): Promise<CheckLine[]> {
  let lock: LockFile;
  let plugins: readonly CatalogedPlugin[];
  try {
    [lock, { plugins }] = await Promise.all([loadLockFile(layout.lockFile), loadPluginCatalog(pluginSources(layout))]);
  } catch (error) {
    return [fail(IMAGE, describe(error)), fail(SIGNATURE, describe(error))];
  }
  const lines: CheckLine[] = [];
  for (const plugin of plugins) {
    const name = plugin.manifest.name;
    const pinned = pinOf(lock, name);
    if (pinned === undefined) {
      if (plugin.builtin) lines.push(info(IMAGE, `${name}: not pinned yet; the first start (or carapace image build) builds, signs and pins it`));
      else lines.push(fail(IMAGE, `${name}: not pinned in ${layout.lockFile}, so it will not start [IMAGE_NOT_PINNED]`));
      continue;
    }
    const ref = `${pinned.image}@${pinned.digest}`;
    try {
      await verifyRuntimeImage(runtime, name, pinned, plugin.manifest.image);
      lines.push(pass(IMAGE, `digest matches config: ${name} ${ref}`));
    } catch (error) {
      lines.push(fail(IMAGE, `${name}: ${describe(error)}`));
    }
    try {
      lines.push(pass(SIGNATURE, `verified: ${name} signed by ${describeSigner(await verifyPinnedSignature(layout, pinned.digest))}`));
    } catch (error) {
      lines.push(fail(SIGNATURE, `${name}: ${describe(error)}`));
    }
  }
  return lines;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function describe(error: unknown): string {
  const typed = toCarapaceError(error, 'INTERNAL', 'check failed');
  return `${typed.message} [${typed.code}]`;
}
