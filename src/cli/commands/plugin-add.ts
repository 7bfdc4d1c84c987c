import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCarapaceHome, homeLayout, type HomeLayout } from '../../config/carapace-home.js';
import { loadConfig } from '../../config/config-file.js';
import { searchConfiguredRuntime } from '../../daemon/find-runtime.js';
import { verifyRuntimeImage } from '../../daemon/plugin-images.js';
import { CarapaceError, isCarapaceError } from '../../errors.js';
import { isBuiltinPlugin } from '../../images/builtin-plugins.js';
import { stagePluginFiles, type StagedPluginFiles } from '../../registry/install-plugin-files.js';
import { pullSignedImage, type PulledImage } from '../../registry/pull-image.js';
import { RegistryClient } from '../../registry/registry-client.js';
import { parseRegistryReference } from '../../registry/registry-reference.js';
import type { ContainerRuntime } from '../../runtime/container-runtime.js';
import { bundlePathFor, updateLockFile, withPin, type PinnedImage } from '../../trust/lock-file.js';
import { loadRevocationList } from '../../trust/revocation-list.js';
import { readTrustFile, writeTrustFile } from '../../trust/trust-file.js';
import { loadTrustedRoot, loadTrustPolicy } from '../../trust/trust-policy.js';
import { verifyImageSignature, type VerifiedSignature } from '../../trust/verify-image.js';
import { parseJsonText } from '../../wire/json.js';
import { parseManifest, type PluginManifest } from '../../wire/manifest.js';
import type { CommandContext, CommandResult } from '../command-result.js';

export interface PluginAddOptions {
  /** Plain HTTP, for a registry on loopback only (`--plain-http`); anything else is REGISTRY_REFUSED. */
  readonly plainHttp?: boolean;
  /** One line per long step (downloads), for stderr. */
  readonly onProgress?: (line: string) => void;
  /** The runtime to load into; defaults to the one config.toml selects. Tests inject theirs. */
  readonly runtime?: ContainerRuntime;
}

/**
 * `carapace plugin add REF`: pulls a plugin image by digest from an OCI registry (a tag in REF is
 * resolved once, here, and never recorded), verifies its Sigstore bundle against the home's trust
 * policy and revocation list before a single layer is downloaded, checks every blob against its
 * digest, loads the image into the runtime and checks what the runtime holds, then writes the
 * bundle beside the lock, installs the plugin's manifest and skills from the image's /carapace,
 * and pins the digest. Fail closed: on any refusal nothing is loaded, written or pinned.
 */
export async function pluginAdd(ctx: CommandContext, ref: string, options: PluginAddOptions = {}): Promise<CommandResult> {
  const reference = parseRegistryReference(ref);
  // An existing home is checked (owner-only) before its policy is trusted; a missing one is not
  // created until there is something to write: its absent policy trusts nothing, so it may never be.
  const homeExists = (await lstat(ctx.home).catch(() => undefined)) !== undefined;
  const layout = homeExists ? await ensureCarapaceHome(ctx.home) : homeLayout(ctx.home);
  const [policy, revocations] = await Promise.all([loadTrustPolicy(layout.trustPolicyFile), loadRevocationList(layout.revocationFile)]);
  const trustedRoot = await loadTrustedRoot(policy, layout.trustPolicyFile);

  const workDir = await mkdtemp(join(tmpdir(), 'carapace-pull-'));
  try {
    let verified: VerifiedSignature | undefined;
    const pulled = await withClient(reference.registry, ctx, options, (client) =>
      pullSignedImage(client, reference, {
        workDir,
        verify: ({ digest, bundle }) => {
          verified = verifyImageSignature({ manifestDigest: digest, bundle: bundle.json, policy, revocations, ...(trustedRoot === undefined ? {} : { trustedRoot }) });
        },
        ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      }),
    );
    if (verified === undefined) throw new CarapaceError('INTERNAL', 'the pull finished without a signature check');
    const manifest = readPluginManifest(pulled);
    const pin: PinnedImage = { image: pulled.repository, digest: pulled.digest, bundle: bundlePathFor(pulled.digest), pinnedAt: new Date().toISOString() };

    await ensureCarapaceHome(ctx.home);
    await loadIntoRuntime(layout, ctx, options, pulled, manifest, pin);
    await install(layout, pulled, manifest, pin);
    return describeAdded(manifest, pin, verified);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

async function withClient<T>(registry: string, ctx: CommandContext, options: PluginAddOptions, use: (client: RegistryClient) => Promise<T>): Promise<T> {
  const client = new RegistryClient(registry, { plainHttp: options.plainHttp === true, env: ctx.env });
  try {
    return await use(client);
  } finally {
    await client[Symbol.asyncDispose]();
  }
}

/**
 * The plugin's manifest from the image's /carapace, parsed like any manifest (it is the plugin
 * author's input, signed or not). A built-in's name is refused: the catalog would reject the
 * folder at every start anyway, and the user should hear it now.
 */
function readPluginManifest(pulled: PulledImage): PluginManifest {
  const source = `${pulled.repository}@${pulled.digest}:/carapace/manifest.json`;
  const invalid = (why: string, cause?: unknown): CarapaceError => new CarapaceError('MANIFEST_INVALID', `${source}: ${why}`, { cause, details: { file: source } });
  const bytes = pulled.carapaceFiles.get('manifest.json');
  if (bytes === undefined) throw invalid('the image carries no Carapace manifest (build it with one under /carapace)');
  let json;
  try {
    json = parseJsonText(bytes.toString('utf8'), { maxDepth: 32 });
  } catch (error) {
    throw invalid(isCarapaceError(error) ? error.message : 'not JSON', error);
  }
  const manifest = parseManifest(json, source);
  if (isBuiltinPlugin(manifest.name)) throw invalid(`"${manifest.name}" is the name of a built-in plugin`);
  const missing = manifest.skills.filter((skill) => !pulled.carapaceFiles.has(skill));
  if (missing.length > 0) throw invalid(`skills listed but not in the image: ${missing.join(', ')}`);
  return manifest;
}

/** Loads the archive and checks, as the start gate will, that the runtime holds the pinned digest. */
async function loadIntoRuntime(layout: HomeLayout, ctx: CommandContext, options: PluginAddOptions, pulled: PulledImage, manifest: PluginManifest, pin: PinnedImage): Promise<void> {
  const runtime = options.runtime ?? (await searchConfiguredRuntime(layout, (await loadConfig(layout.configFile)).config, ctx.env)).runtime;
  try {
    const loadedId = await runtime.loadImage(pulled.archivePath);
    if (loadedId !== pulled.configDigest && `sha256:${loadedId}` !== pulled.configDigest) {
      throw new CarapaceError('IMAGE_DIGEST_MISMATCH', `the runtime loaded ${loadedId}, expected the image ${pulled.configDigest}`, {
        details: { expected: pulled.configDigest, actual: loadedId },
      });
    }
    await verifyRuntimeImage(runtime, manifest.name, pin, pulled.reference);
  } finally {
    if (options.runtime === undefined) await runtime[Symbol.asyncDispose]();
  }
}

/**
 * Bundle, then plugin folder, then the pin: the lock is the last word, so until it is written no
 * start would run the plugin, and if writing it fails the folder and bundle are put back.
 */
async function install(layout: HomeLayout, pulled: PulledImage, manifest: PluginManifest, pin: PinnedImage): Promise<void> {
  const staged: StagedPluginFiles = await stagePluginFiles(layout.plugins, manifest.name, pulled.carapaceFiles, manifest.skills);
  const bundleFile = join(layout.home, pin.bundle);
  const hadBundle = (await readTrustFile(bundleFile)) !== undefined;
  try {
    await writeTrustFile(bundleFile, pulled.bundle.bytes.toString('utf8'));
    await staged.activate();
    await updateLockFile(layout.lockFile, (lock) => withPin(lock, manifest.name, pin));
  } catch (error) {
    await staged.rollback();
    if (!hadBundle) await rm(bundleFile, { force: true });
    throw error;
  }
  await staged.commit();
}

function describeAdded(manifest: PluginManifest, pin: PinnedImage, verified: VerifiedSignature): CommandResult {
  const signer =
    verified.signer.kind === 'key' ? `key ${verified.signer.keyId}` : `${verified.signer.subject} (issuer ${verified.signer.issuer})`;
  return {
    text: [
      `added ${manifest.name} ${manifest.version}: ${pin.image}@${pin.digest}`,
      `  signed by ${signer}; pinned in carapace.lock`,
      `  tools: ${manifest.tools.map((tool) => `${manifest.name}.${tool.name}`).join(', ')}`,
      '  a running core starts it at its next start',
    ].join('\n'),
    data: {
      plugin: manifest.name,
      version: manifest.version,
      image: pin.image,
      digest: pin.digest,
      bundle: pin.bundle,
      signer: verified.signer,
      tools: manifest.tools.map((tool) => `${manifest.name}.${tool.name}`),
    },
  };
}
