import { ensureCarapaceHome, type HomeLayout } from '../../config/carapace-home.js';
import { loadConfig } from '../../config/config-file.js';
import { searchConfiguredRuntime } from '../../daemon/find-runtime.js';
import { describeSigner, verifyPinnedSignature } from '../../daemon/image-signature.js';
import { localSigningKey, pinImage, runtimeManifestDigest } from '../../daemon/local-pins.js';
import { loadPluginCatalog, type CatalogedPlugin } from '../../daemon/plugin-catalog.js';
import { prepareBuiltinImage } from '../../daemon/plugin-images.js';
import { pluginSources } from '../../daemon/plugin-sources.js';
import { CarapaceError, toCarapaceError } from '../../errors.js';
import { BUILTIN_PLUGIN_NAMES, isBuiltinPlugin } from '../../images/builtin-plugins.js';
import type { ContainerRuntime } from '../../runtime/container-runtime.js';
import { saveBundleFile } from '../../trust/bundle-file.js';
import { loadLockFile, pinOf } from '../../trust/lock-file.js';
import type { SerializedBundle } from '../../trust/sign-image.js';
import { MANIFEST_DIGEST_PATTERN } from '../../trust/signed-payload.js';
import { loadSigningKey } from '../../trust/signing-key.js';
import type { CommandContext, CommandResult } from '../command-result.js';

export interface ImageCommandOptions {
  /** One line per long step, for stderr. */
  readonly onProgress?: (line: string) => void;
  /** The runtime to use; defaults to the one config.toml selects. Tests inject theirs. */
  readonly runtime?: ContainerRuntime;
}

/**
 * `carapace image build [PLUGIN...]`: builds the built-in plugins' images from the installed
 * package (all of them by default), loads them, signs each digest with the home's local key and
 * pins it, replacing an older pin. This is the one way a built-in's pin changes after an upgrade.
 */
export async function imageBuild(ctx: CommandContext, names: readonly string[], options: ImageCommandOptions = {}): Promise<CommandResult> {
  const chosen = names.length === 0 ? BUILTIN_PLUGIN_NAMES : [...new Set(names)];
  const unknown = chosen.filter((name) => !isBuiltinPlugin(name));
  if (unknown.length > 0) {
    throw new CarapaceError('CLI_USAGE', `not a built-in plugin: ${unknown.join(', ')} (built-ins: ${BUILTIN_PLUGIN_NAMES.join(', ')}); sign your own plugin's image with carapace image sign`);
  }
  const layout = await ensureCarapaceHome(ctx.home);
  return withRuntime(layout, ctx, options, async (runtime) => {
    const built = [];
    for (const name of chosen) {
      options.onProgress?.(`building ${name} (reading the package and hashing its layers)...`);
      const started = Date.now();
      const prepared = await prepareBuiltinImage(runtime, name, { layout }, { replace: true });
      options.onProgress?.(`built ${name} in ${((Date.now() - started) / 1000).toFixed(1)} s${prepared.image.loaded ? ', loaded into the runtime' : ''}`);
      built.push({ plugin: name, image: prepared.pin.image, digest: prepared.pin.digest, bundle: prepared.pin.bundle, loaded: prepared.image.loaded });
    }
    return {
      text: built.map((image) => `${image.plugin}  ${image.image}@${image.digest}  signed (key local), pinned`).join('\n'),
      data: { images: built },
    };
  });
}

export interface ImageSignOptions extends ImageCommandOptions {
  /** A PEM private key file (0600) to sign with instead of the home's local key. */
  readonly key?: string;
  /** Sign the image the runtime holds under the plugin's manifest now, and pin it, replacing the old pin. */
  readonly repin?: boolean;
  readonly keyless?: {
    readonly identityToken: string | undefined;
    readonly fulcioURL: string;
    readonly rekorURL: string;
    readonly tsaURL?: string;
  };
}

/**
 * `carapace image sign DIGEST|PLUGIN`: writes a Sigstore bundle for a manifest digest beside the
 * lock. PLUGIN means its pinned digest; a plugin of your own that is not pinned yet (or `--repin`)
 * means the image the runtime holds under its manifest's `image`, which is then pinned. The
 * signature is only as good as the policy: a key or identity the policy does not list verifies nothing.
 */
export async function imageSign(ctx: CommandContext, target: string, options: ImageSignOptions = {}): Promise<CommandResult> {
  const layout = await ensureCarapaceHome(ctx.home);
  const subject = await resolveSignTarget(layout, ctx, target, options);
  const { bundle, signer } = await sign(layout, subject.digest, options);
  const path = await saveBundleFile(layout.home, subject.digest, bundle);
  const pin = subject.pin === undefined ? undefined : await pinImage(layout, { plugin: subject.pin.plugin, image: subject.pin.image, digest: subject.digest, replace: true });
  // The gate's own check, so what this prints is what the next start will decide.
  const refusal = await verifyPinnedSignature(layout, subject.digest).then(
    () => undefined,
    (error: unknown) => toCarapaceError(error, 'SIGNATURE_INVALID', 'the new bundle does not verify'),
  );
  const trusted = refusal === undefined;
  const lines = [
    `signed ${subject.digest}${subject.plugin === undefined ? '' : ` (plugin ${subject.plugin})`} with ${signer.text}`,
    `  bundle: ${path}${pin === undefined ? '' : '; pinned in carapace.lock'}`,
    ...(refusal === undefined
      ? []
      : [`  note: the start gate will refuse it: ${refusal.message} [${refusal.code}]; trust the signer with carapace trust key add or trust identity add`]),
  ];
  return { text: lines.join('\n'), data: { digest: subject.digest, plugin: subject.plugin ?? null, bundle: path, pinned: pin !== undefined, signer: signer.data, trusted, refusal: refusal === undefined ? null : refusal.code } };
}

/**
 * `carapace image verify PLUGIN|DIGEST`: the start gate's signature check, on its own. PASS names
 * the signer; a refusal throws its typed code (exit status 8).
 */
export async function imageVerify(ctx: CommandContext, target: string): Promise<CommandResult> {
  const layout = await ensureCarapaceHome(ctx.home);
  let digest = target;
  let plugin: string | undefined;
  if (!MANIFEST_DIGEST_PATTERN.test(target)) {
    plugin = target;
    digest = (await pinnedOrRefuse(layout, target)).digest;
  }
  const verified = await verifyPinnedSignature(layout, digest);
  return {
    text: `PASS ${plugin === undefined ? '' : `${plugin} `}${digest}: signed by ${describeSigner(verified)}`,
    data: { verified: true, plugin: plugin ?? null, digest, signer: verified.signer },
  };
}

interface SignTarget {
  readonly digest: string;
  readonly plugin?: string;
  /** Present when signing also pins. */
  readonly pin?: { readonly plugin: string; readonly image: string };
}

async function resolveSignTarget(layout: HomeLayout, ctx: CommandContext, target: string, options: ImageSignOptions): Promise<SignTarget> {
  if (MANIFEST_DIGEST_PATTERN.test(target)) return { digest: target };
  const plugin = await catalogedPlugin(layout, target);
  const pinned = pinOf(await loadLockFile(layout.lockFile), target);
  if (plugin.builtin) {
    if (options.repin === true) throw new CarapaceError('CLI_USAGE', `${target} is a built-in plugin: carapace image build rebuilds and re-pins it`);
    if (pinned === undefined) throw notPinned(layout, target, 'run carapace image build');
    return { digest: pinned.digest, plugin: target };
  }
  if (pinned !== undefined && options.repin !== true) return { digest: pinned.digest, plugin: target };
  const held = await withRuntime(layout, ctx, options, (runtime) => runtimeManifestDigest(runtime, plugin.manifest.image));
  return { digest: held.digest, plugin: target, pin: { plugin: target, image: held.image } };
}

interface Signed {
  readonly bundle: SerializedBundle;
  readonly signer: { readonly text: string; readonly data: Record<string, string> };
}

async function sign(layout: HomeLayout, digest: string, options: ImageSignOptions): Promise<Signed> {
  // Loaded here, not at the top: every carapace command would otherwise pay for importing Sigstore.
  const { signImageDigest, signImageDigestKeyless } = await import('../../trust/sign-image.js');
  if (options.keyless !== undefined) {
    if (options.key !== undefined) throw new CarapaceError('CLI_USAGE', '--key and --keyless exclude each other');
    const { identityToken, ...urls } = options.keyless;
    if (identityToken === undefined || identityToken === '') {
      throw new CarapaceError('CLI_USAGE', 'keyless signing needs an OIDC identity token: set SIGSTORE_ID_TOKEN (or pass --identity-token)');
    }
    const bundle = await signImageDigestKeyless(digest, { identityToken, ...urls });
    return { bundle, signer: { text: `a keyless certificate from ${urls.fulcioURL}`, data: { kind: 'keyless', fulcioURL: urls.fulcioURL } } };
  }
  const key = options.key === undefined ? await localSigningKey(layout) : await loadSigningKey(options.key);
  if (key === undefined) throw new CarapaceError('CLI_USAGE', `no key file ${options.key ?? ''}`, { details: { file: options.key } });
  const name = options.key === undefined ? 'the local key' : `key ${options.key}`;
  return { bundle: await signImageDigest(digest, key), signer: { text: `${name} (${key.keyId})`, data: { kind: 'key', fingerprint: key.keyId } } };
}

async function catalogedPlugin(layout: HomeLayout, name: string): Promise<CatalogedPlugin> {
  const catalog = await loadPluginCatalog(pluginSources(layout));
  const plugin = catalog.plugins.find((each) => each.manifest.name === name);
  if (plugin !== undefined) return plugin;
  const failure = catalog.failures.find((each) => each.plugin === name);
  if (failure !== undefined) throw failure.error;
  throw new CarapaceError('CLI_USAGE', `no plugin ${name} (and not a manifest digest sha256:<64 hex>)`, { details: { plugin: name } });
}

async function pinnedOrRefuse(layout: HomeLayout, plugin: string): Promise<{ digest: string }> {
  const pinned = pinOf(await loadLockFile(layout.lockFile), plugin);
  if (pinned === undefined) throw notPinned(layout, plugin, isBuiltinPlugin(plugin) ? 'run carapace image build' : 'add it with carapace plugin add, or sign it with carapace image sign');
  return pinned;
}

function notPinned(layout: HomeLayout, plugin: string, fix: string): CarapaceError {
  return new CarapaceError('IMAGE_NOT_PINNED', `plugin ${plugin} is not pinned in ${layout.lockFile}; ${fix}`, { details: { plugin, lockFile: layout.lockFile } });
}

async function withRuntime<T>(layout: HomeLayout, ctx: CommandContext, options: ImageCommandOptions, use: (runtime: ContainerRuntime) => Promise<T>): Promise<T> {
  if (options.runtime !== undefined) return use(options.runtime);
  const { runtime } = await searchConfiguredRuntime(layout, (await loadConfig(layout.configFile)).config, ctx.env);
  try {
    return await use(runtime);
  } finally {
    await runtime[Symbol.asyncDispose]();
  }
}
