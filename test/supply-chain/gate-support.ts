import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCarapaceHome, type HomeLayout } from '../../src/config/carapace-home.js';
import { loadConfig } from '../../src/config/config-file.js';
import { LABEL_PLUGIN } from '../../src/daemon/plugin-container.js';
import { homeLabels } from '../../src/core/container-labels.js';
import { createSanitizer } from '../../src/core/sanitizer.js';
import { startCore, type RunningCore } from '../../src/daemon/core.js';
import { pinImage } from '../../src/daemon/local-pins.js';
import { resolvePluginImage } from '../../src/daemon/plugin-images.js';
import { pluginSources } from '../../src/daemon/plugin-sources.js';
import { ensureImage, type EnsuredImage } from '../../src/images/ensure-image.js';
import { nodePluginImageDefinition } from '../../src/images/node-plugin-image.js';
import { createLogger } from '../../src/logging/logger.js';
import type { ContainerRuntime } from '../../src/runtime/container-runtime.js';
import { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { openAuditReader } from '../../src/store/audit-reader.js';
import type { AuditEntry } from '../../src/store/audit-record.js';
import { saveBundleFile } from '../../src/trust/bundle-file.js';
import { signImageDigest } from '../../src/trust/sign-image.js';
import type { SigningKey } from '../../src/trust/signing-key.js';
import { loadTrustPolicy, saveTrustPolicy } from '../../src/trust/trust-policy.js';
import { hostilePluginManifest } from '../support/hostile-plugin.js';
import { podmanSocket } from '../support/podman.js';
import { freshHome } from '../support/run-cli-in-process.js';

/** A new home whose config points at the test Podman; the core is started on it (again and again) with `startCoreIn`. */
export async function gateHome(): Promise<HomeLayout> {
  const home = await freshHome();
  await mkdir(home, { mode: 0o700 });
  await writeFile(join(home, 'config.toml'), `[runtime]\nsocket = "${podmanSocket()}"\n`, { mode: 0o600 });
  return ensureCarapaceHome(home);
}

/** Writes a user plugin's manifest: the hostile test plugin's tools (it answers `ping`), under `name`, running `image`. */
export async function addUserPlugin(layout: HomeLayout, name: string, image: string): Promise<void> {
  await mkdir(join(layout.plugins, name), { recursive: true, mode: 0o700 });
  await writeFile(join(layout.plugins, name, 'manifest.json'), JSON.stringify(hostilePluginManifest(image, name)));
}

/** The real core, in-process, as `carapace start` builds it, on an existing home. */
export async function startCoreIn(layout: HomeLayout): Promise<RunningCore & { stopAll(): Promise<void> }> {
  const { config } = await loadConfig(layout.configFile);
  const logger = createLogger({ home: layout.home, level: 'debug', sanitize: (line) => line });
  const core = await startCore({
    layout,
    config,
    log: logger,
    sanitizer: createSanitizer([]),
    findRuntime: () => DockerApiRuntime.connect(podmanSocket()),
    pluginSources: pluginSources(layout),
    resolveImage: resolvePluginImage,
  });
  return Object.assign(core, {
    stopAll: async () => {
      await core.stop();
      await logger.close();
    },
  });
}

/** Signs `digest` with `key` and writes the bundle beside the lock. */
export async function signWith(layout: HomeLayout, digest: string, key: SigningKey): Promise<void> {
  await saveBundleFile(layout.home, digest, await signImageDigest(digest, key));
}

export async function pin(layout: HomeLayout, plugin: string, image: EnsuredImage | { reference: string; manifestDigest: string }): Promise<void> {
  await pinImage(layout, { plugin, image: image.reference.slice(0, image.reference.lastIndexOf(':')), digest: image.manifestDigest, replace: true });
}

export async function trustKey(layout: HomeLayout, id: string, key: SigningKey): Promise<void> {
  const policy = await loadTrustPolicy(layout.trustPolicyFile);
  await saveTrustPolicy(layout.trustPolicyFile, { ...policy, keys: [...policy.keys, { id, publicKeyPem: key.publicKeyPem }] });
}

/** A one-file image that is not a plugin: the gate refuses before anything would run it. */
export async function tinyImage(runtime: Pick<ContainerRuntime, 'findImage' | 'loadImage'>, content: string): Promise<EnsuredImage> {
  return ensureImage(runtime, {
    name: 'localhost/carapace-test/gate-tiny',
    rootfs: [{ type: 'file', path: '/marker', mode: 0o444, source: { content } }],
    config: { cmd: ['/marker'], workdir: '/', path: '/bin' },
  });
}

const fixture = (file: string): string => fileURLToPath(new URL(`../fixtures/hostile-plugin/${file}`, import.meta.url));

/** A runnable plugin image (the hostile test plugin) under `name`; `variant` changes a label, so the content (and digest) differ. */
export async function runnablePluginImage(runtime: Pick<ContainerRuntime, 'findImage' | 'loadImage'>, name: string, variant: string): Promise<EnsuredImage> {
  const definition = await nodePluginImageDefinition({
    name,
    files: ['main.mjs', 'probe.mjs'].map((file) => ({ hostPath: fixture(file), imagePath: file })),
    packages: ['zeromq'],
    entry: 'main.mjs',
    labels: { 'test.variant': variant },
  });
  return ensureImage(runtime, definition);
}

/** Every container of this home that belongs to `plugin` (running or not). */
export async function containersOf(runtime: ContainerRuntime, layout: HomeLayout, plugin: string): Promise<string[]> {
  return (await runtime.list({ ...homeLabels(layout.home), [LABEL_PLUGIN]: plugin })).map((container) => container.id);
}

/** The lifecycle records of the home's audit log. */
export function lifecycleRecords(layout: HomeLayout): AuditEntry[] {
  using audit = openAuditReader(layout.auditFile);
  return audit.tail(10_000).filter((record) => record.kind === 'lifecycle');
}
