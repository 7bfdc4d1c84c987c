import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { homeLayout } from '../../config/carapace-home.js';
import { describeSigner, verifyPinnedSignature } from '../../daemon/image-signature.js';
import { CarapaceError } from '../../errors.js';
import { builtinPluginImage, BUILTIN_PLUGIN_NAMES, isBuiltinPlugin } from '../../images/builtin-plugins.js';
import { composeImage, writeImageArchive } from '../../images/image-builder.js';
import { readOciArchive } from '../../registry/oci-layout.js';
import { pushOciImage } from '../../registry/push-image.js';
import { RegistryClient } from '../../registry/registry-client.js';
import { parseRegistryReference, toRepositoryName } from '../../registry/registry-reference.js';
import { pushSignatureBundle, toSignatureTag } from '../../registry/signature-artifact.js';
import { loadLockFile, pinOf } from '../../trust/lock-file.js';
import { readTrustFile } from '../../trust/trust-file.js';
import type { CommandContext, CommandResult } from '../command-result.js';

export interface ImagePushOptions {
  /** Plain HTTP, for a registry on loopback only. */
  readonly plainHttp?: boolean;
  readonly onProgress?: (line: string) => void;
}

/**
 * `carapace image push PLUGIN REGISTRY/REPO:TAG`: publishes a built image with its signature. The
 * image is rebuilt from the installed package (deterministic, so no runtime export that could
 * re-compress layers) and must be exactly the pinned digest; its bundle must verify against the
 * home's policy as the start gate would. Then the blobs, the manifest under TAG, and the bundle
 * under `sha256-<hex>.sigstore` go to the registry. Only built-in plugins are built here.
 */
export async function imagePush(ctx: CommandContext, plugin: string, target: string, options: ImagePushOptions = {}): Promise<CommandResult> {
  if (!isBuiltinPlugin(plugin)) {
    throw new CarapaceError('CLI_USAGE', `only images Carapace builds can be pushed (built-ins: ${BUILTIN_PLUGIN_NAMES.join(', ')}), not ${JSON.stringify(plugin)}`);
  }
  const reference = parseRegistryReference(target);
  if (reference.digest !== undefined || reference.tag === undefined) {
    throw new CarapaceError('CLI_USAGE', 'name the tag to push to (REGISTRY/REPO:TAG); the digest is the image\'s own');
  }
  const layout = homeLayout(ctx.home);
  const pin = pinOf(await loadLockFile(layout.lockFile), plugin);
  if (pin === undefined) throw new CarapaceError('IMAGE_NOT_PINNED', `plugin ${plugin} is not pinned in ${layout.lockFile}; run carapace image build`, { details: { plugin } });
  const verified = await verifyPinnedSignature(layout, pin.digest);
  const bundle = await readTrustFile(join(layout.home, pin.bundle));
  if (bundle === undefined) throw new CarapaceError('SIGNATURE_MISSING', `no bundle for ${pin.digest} beside the lock`, { details: { digest: pin.digest } });

  options.onProgress?.(`building ${plugin} (reading the package and hashing its layers)...`);
  const image = await composeImage(await builtinPluginImage(plugin));
  if (image.manifestDigest !== pin.digest) {
    throw new CarapaceError('IMAGE_DIGEST_MISMATCH', `plugin ${plugin} builds to ${image.manifestDigest}, but ${pin.digest} is pinned; run carapace image build`, {
      details: { plugin, pinned: pin.digest, actual: image.manifestDigest },
    });
  }
  const dir = await mkdtemp(join(tmpdir(), 'carapace-push-'));
  const client = new RegistryClient(reference.registry, { plainHttp: options.plainHttp === true, env: ctx.env });
  try {
    const contents = await readOciArchive(await writeImageArchive(image, dir));
    options.onProgress?.(`pushing ${toRepositoryName(reference)}:${reference.tag}...`);
    const pushed = await pushOciImage(client, reference.repository, reference.tag, contents);
    await pushSignatureBundle(client, reference.repository, pushed, Buffer.from(bundle, 'utf8'));
    const where = `${toRepositoryName(reference)}:${reference.tag}`;
    return {
      text: `pushed ${plugin}: ${where}@${pushed.digest}\n  signature (${describeSigner(verified)}) at ${toRepositoryName(reference)}:${toSignatureTag(pushed.digest)}`,
      data: { plugin, repository: toRepositoryName(reference), tag: reference.tag, digest: pushed.digest, signatureTag: toSignatureTag(pushed.digest) },
    };
  } finally {
    await client[Symbol.asyncDispose]();
    await rm(dir, { recursive: true, force: true });
  }
}
