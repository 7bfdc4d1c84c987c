import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureCarapaceHome, type HomeLayout } from '../../src/config/carapace-home.js';
import { loadConfig } from '../../src/config/config-file.js';
import type { Confirmer } from '../../src/core/pipeline/confirm.js';
import { createSanitizer } from '../../src/core/sanitizer.js';
import { openCredentialStore } from '../../src/credentials/credential-store.js';
import { startCore, type RunningCore } from '../../src/daemon/core.js';
import { pinImage, runtimeManifestDigest, signLocally } from '../../src/daemon/local-pins.js';
import { resolvePluginImage } from '../../src/daemon/plugin-images.js';
import { pluginSources } from '../../src/daemon/plugin-sources.js';
import { createLogger, type FileLogger } from '../../src/logging/logger.js';
import { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { connectCallerClient, type CallerClient } from '../../src/transport/caller-client.js';
import { DEFAULT_WIRE_LIMITS } from '../../src/wire/message.js';
import { podmanSocket } from './podman.js';
import { freshHome } from './run-cli-in-process.js';

export interface TestCoreOptions {
  /** Extra config.toml text after the `[runtime]` section that points at the test Podman. */
  readonly config?: string;
  /** `{ plugin: { NAME: value } }`, stored with the credential store before the core starts. */
  readonly credentials?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly confirmer?: Confirmer;
  /** Extra plugin folders to put in the home's plugins/ (folder name to manifest JSON). */
  readonly userPlugins?: Readonly<Record<string, unknown>>;
  /**
   * Sign each user plugin's image (what Podman holds under its manifest's `image`) with the home's
   * local key and pin it, as `carapace image sign PLUGIN` does; default true. Supply-chain tests
   * turn it off to pin (or not) by themselves.
   */
  readonly pinUserPlugins?: boolean;
  /** Runs after the home exists and before the core starts (e.g. to subscribe to its event bus early). */
  readonly beforeStart?: (layout: HomeLayout) => void | Promise<void>;
}

export interface TestCore extends AsyncDisposable {
  readonly home: string;
  readonly layout: HomeLayout;
  readonly core: RunningCore;
  readonly logger: FileLogger;
  /** A new caller connection (the operator), closed with the core. */
  client(): CallerClient;
  stop(): Promise<void>;
}

/**
 * The real core, in-process, the way `carapace start` builds it: real Podman, real plugin images
 * and containers, real sockets, a real audit file, in a fresh home.
 */
export async function startTestCore(options: TestCoreOptions = {}): Promise<TestCore> {
  const home = await freshHome();
  await mkdir(home, { mode: 0o700 });
  await writeFile(join(home, 'config.toml'), `[runtime]\nsocket = "${podmanSocket()}"\n${options.config ?? ''}`, { mode: 0o600 });
  const layout = await ensureCarapaceHome(home);
  const store = await openCredentialStore(layout.credentials);
  for (const [plugin, values] of Object.entries(options.credentials ?? {})) {
    for (const [name, value] of Object.entries(values)) await store.set(plugin, name, value);
  }
  for (const [name, manifest] of Object.entries(options.userPlugins ?? {})) {
    await mkdir(join(layout.plugins, name), { recursive: true, mode: 0o700 });
    await writeFile(join(layout.plugins, name, 'manifest.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
  }
  if (options.pinUserPlugins !== false) await pinUserPlugins(layout, options.userPlugins ?? {});
  await options.beforeStart?.(layout);
  const { config } = await loadConfig(layout.configFile);
  const sanitizer = createSanitizer(await store.allValues());
  const logger = createLogger({ home, level: 'debug', sanitize: (line) => sanitizer.text(line) });
  const core = await startCore({
    layout,
    config,
    log: logger,
    sanitizer,
    findRuntime: () => DockerApiRuntime.connect(podmanSocket()),
    pluginSources: pluginSources(layout),
    resolveImage: resolvePluginImage,
    ...(options.confirmer === undefined ? {} : { confirmer: options.confirmer }),
  });
  const clients: CallerClient[] = [];
  const stop = async (): Promise<void> => {
    for (const client of clients) client.close();
    await core.stop();
    await logger.close();
  };
  return {
    home,
    layout,
    core,
    logger,
    client() {
      const client = connectCallerClient({ socketPath: layout.callerSocket, limits: DEFAULT_WIRE_LIMITS });
      clients.push(client);
      return client;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Pins every user plugin whose manifest names an image the runtime holds; a manifest that is not an object is left to the catalog to reject. */
async function pinUserPlugins(layout: HomeLayout, plugins: Readonly<Record<string, unknown>>): Promise<void> {
  const images = Object.values(plugins).flatMap((manifest) => {
    const { name, image } = typeof manifest === 'object' && manifest !== null ? (manifest as { name?: unknown; image?: unknown }) : {};
    return typeof name === 'string' && typeof image === 'string' ? [{ name, image }] : [];
  });
  if (images.length === 0) return;
  await using runtime = await DockerApiRuntime.connect(podmanSocket());
  for (const { name, image } of images) {
    const found = await runtime.findImage(image);
    if (found === undefined) continue;
    const { image: repository, digest } = await runtimeManifestDigest(runtime, image);
    await signLocally(layout, digest);
    await pinImage(layout, { plugin: name, image: repository, digest, replace: true });
  }
}
