import { lstat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCarapaceHome, type HomeLayout } from '../../src/config/carapace-home.js';
import { composeImage } from '../../src/images/image-builder.js';
import { nodePluginImageDefinition } from '../../src/images/node-plugin-image.js';
import type { OciImage } from '../../src/images/oci-image.js';
import { RegistryClient } from '../../src/registry/registry-client.js';
import { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { loadLockFile } from '../../src/trust/lock-file.js';
import { addRevocation, loadRevocationList, saveRevocationList } from '../../src/trust/revocation-list.js';
import { generateSigningKey, type SigningKey } from '../../src/trust/signing-key.js';
import { podman } from '../images/podman-cli.js';
import { startTestCore } from '../support/core-harness.js';
import { startLoopbackRegistry, tamperWithBlob, type LoopbackRegistry } from '../support/docker-registry.js';
import { hostilePluginManifest } from '../support/hostile-plugin.js';
import { podmanSocket } from '../support/podman.js';
import { freshHome, runCarapace } from '../support/run-cli-in-process.js';
import { pushBuiltImage, pushSignature, smallPluginImage, treeSnapshot, trustKey } from './registry-fixtures.js';

/**
 * `carapace plugin add` against Debian's docker-registry on loopback and real Podman: the round
 * trip a plugin author and a user make (build, push, sign, add, start, call), and every refusal,
 * each leaving the home exactly as it was and the runtime without the image.
 */

const fixture = (file: string): string => fileURLToPath(new URL(`../fixtures/hostile-plugin/${file}`, import.meta.url));

let registry: LoopbackRegistry;
let client: RegistryClient;
let runtime: DockerApiRuntime;
let work: string;
const trusted: SigningKey = generateSigningKey();
const loadedReferences: string[] = [];

beforeAll(async () => {
  registry = await startLoopbackRegistry();
  client = new RegistryClient(registry.host, { plainHttp: true });
  runtime = await DockerApiRuntime.connect(podmanSocket());
  work = await mkdtemp(join(tmpdir(), 'carapace-plugin-add-'));
});

afterAll(async () => {
  for (const reference of loadedReferences) await podman(['rmi', '--force', reference]);
  await client?.[Symbol.asyncDispose]();
  await runtime?.[Symbol.asyncDispose]();
  await registry?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
}, 60_000);

/** A home that points at the test Podman and trusts `trusted`, as a user would set one up. */
async function preparedHome(): Promise<HomeLayout> {
  const home = await freshHome();
  await mkdir(home, { mode: 0o700 });
  await writeFile(join(home, 'config.toml'), `[runtime]\nsocket = "${podmanSocket()}"\n`, { mode: 0o600 });
  const layout = await ensureCarapaceHome(home);
  await trustKey(layout, trusted, 'publisher');
  return layout;
}

const add = (layout: HomeLayout, ref: string) => runCarapace(['--home', layout.home, '--json', 'plugin', 'add', '--plain-http', ref]);

describe('a registry round trip: build, push, sign, plugin add, start, call', () => {
  it('adds the signed plugin from the registry, pins its digest, and the core runs it and routes a call to it', async () => {
    const repository = 'carapace/regplug';
    const manifest = { ...hostilePluginManifest(`${registry.host}/${repository}`, 'regplug'), skills: ['skills/regplug.md'] };
    await writeFile(join(work, 'manifest.json'), JSON.stringify(manifest));
    await writeFile(join(work, 'regplug.md'), '# regplug\nCall regplug.ping.\n');
    const image = await composeImage(
      await nodePluginImageDefinition({
        name: `localhost/carapace/regplug`,
        files: ['main.mjs', 'probe.mjs'].map((file) => ({ hostPath: fixture(file), imagePath: file })),
        packages: ['zeromq'],
        entry: 'main.mjs',
        carapace: { manifest: join(work, 'manifest.json'), skills: [{ hostPath: join(work, 'regplug.md'), imagePath: 'skills/regplug.md' }] },
      }),
    );
    const pushed = await pushBuiltImage(client, repository, '1.0.0', image);
    await pushSignature(client, repository, pushed, trusted);
    loadedReferences.push(`${registry.host}/${repository}@${pushed.digest}`);

    let added: { status: number; stdout: string; stderr: string } | undefined;
    await using harness = await startTestCore({
      config: '[calls]\ntimeout_ms = 30000\n',
      beforeStart: async (layout) => {
        await trustKey(layout, trusted, 'publisher');
        added = await add(layout, `${registry.host}/${repository}:1.0.0`);
      },
    });
    expect(added?.stderr).toContain('pulling');
    expect(added?.status, added?.stdout).toBe(0);
    expect(JSON.parse(added?.stdout ?? '{}')).toMatchObject({ plugin: 'regplug', digest: image.manifestDigest, signer: { kind: 'key', keyId: 'publisher' } });

    // Pinned by digest, bundle beside the lock, manifest and skill installed byte for byte.
    const lock = await loadLockFile(harness.layout.lockFile);
    expect(lock.plugins['regplug']).toMatchObject({ image: `${registry.host}/${repository}`, digest: image.manifestDigest });
    expect(JSON.stringify(lock)).not.toContain('1.0.0');
    expect(JSON.parse(await readFile(join(harness.home, lock.plugins['regplug']?.bundle ?? 'x'), 'utf8'))).toHaveProperty('messageSignature');
    expect(await readFile(join(harness.layout.plugins, 'regplug', 'manifest.json'), 'utf8')).toBe(JSON.stringify(manifest));
    expect(await readFile(join(harness.layout.plugins, 'regplug', 'skills', 'regplug.md'), 'utf8')).toBe('# regplug\nCall regplug.ping.\n');

    const reply = await harness.client().call({ topic: 'regplug.ping', arguments: {} }, 30_000);
    expect(reply).toMatchObject({ ok: true, result: { pong: true } });
  });
});

describe('refusals leave the home as it was and the runtime without the image', () => {
  /** Pushes a distinct small image (signed by `signer`, or unsigned) and runs plugin add on a prepared home. */
  async function refused(
    marker: string,
    setUp: { signer?: SigningKey; withManifest?: boolean; tamper?: (image: OciImage) => Promise<void>; home?: (layout: HomeLayout, image: OciImage) => Promise<void> },
  ): Promise<{ status: number; code: string }> {
    const image = smallPluginImage(marker, setUp.withManifest === false ? { withManifest: false } : {});
    const repository = `carapace/${marker}`;
    const pushed = await pushBuiltImage(client, repository, 'v1', image);
    if (setUp.signer !== undefined) await pushSignature(client, repository, pushed, setUp.signer);
    await setUp.tamper?.(image);
    const layout = await preparedHome();
    await setUp.home?.(layout, image);
    const before = await treeSnapshot(layout.home);
    const run = await add(layout, `${registry.host}/${repository}:v1`);
    expect(await treeSnapshot(layout.home)).toEqual(before);
    expect(await runtime.findImage(`${registry.host}/${repository}@${image.manifestDigest}`)).toBeUndefined();
    expect((await podman(['images', '--digests', '--format', '{{.Digest}}'])).stdout).not.toContain(image.manifestDigest);
    return { status: run.status, code: (JSON.parse(run.stdout) as { error: { code: string } }).error.code };
  }

  it('no signature in the registry: SIGNATURE_MISSING', async () => {
    expect(await refused('unsigned', {})).toEqual({ status: 8, code: 'SIGNATURE_MISSING' });
  });

  it('a signature by a key the policy does not list: SIGNATURE_UNTRUSTED', async () => {
    expect(await refused('untrusted', { signer: generateSigningKey() })).toEqual({ status: 8, code: 'SIGNATURE_UNTRUSTED' });
  });

  it('a layer replaced in the registry after signing: IMAGE_DIGEST_MISMATCH', async () => {
    const result = await refused('tampered', {
      signer: trusted,
      tamper: (image) => tamperWithBlob(registry, image.layerDigest, (bytes) => Buffer.from(bytes.toString('latin1').replace('tampered', 'TAMPERED'), 'latin1')),
    });
    expect(result).toEqual({ status: 8, code: 'IMAGE_DIGEST_MISMATCH' });
  });

  it('a revoked signing key or digest: TRUST_REVOKED', async () => {
    const revoke = (kind: 'key' | 'digest', value: (image: OciImage) => string) => async (layout: HomeLayout, image: OciImage) => {
      const list = await loadRevocationList(layout.revocationFile);
      await saveRevocationList(layout.revocationFile, addRevocation(list, { kind, value: value(image), reason: 'test', at: new Date() }));
    };
    expect(await refused('revoked-key', { signer: trusted, home: revoke('key', () => 'publisher') })).toEqual({ status: 8, code: 'TRUST_REVOKED' });
    expect(await refused('revoked-digest', { signer: trusted, home: revoke('digest', (image) => image.manifestDigest) })).toEqual({ status: 8, code: 'TRUST_REVOKED' });
  });

  it('an image without a Carapace manifest, or named like a built-in: MANIFEST_INVALID, nothing loaded', async () => {
    // Signature checks pass here; the manifest is read from the verified layers before anything is loaded.
    expect(await refused('echo', { signer: trusted })).toEqual({ status: 3, code: 'MANIFEST_INVALID' });
    expect(await refused('no-manifest', { signer: trusted, withManifest: false })).toEqual({ status: 3, code: 'MANIFEST_INVALID' });
  });

  it('a home that does not exist yet trusts nothing, and is not created by the refusal', async () => {
    const image = smallPluginImage('no-home');
    const pushed = await pushBuiltImage(client, 'carapace/no-home', 'v1', image);
    await pushSignature(client, 'carapace/no-home', pushed, trusted);
    const home = await freshHome();
    const run = await runCarapace(['--home', home, '--json', 'plugin', 'add', '--plain-http', `${registry.host}/carapace/no-home:v1`]);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'SIGNATURE_UNTRUSTED' } });
    expect(run.status).toBe(8);
    await expect(lstat(home)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('plain HTTP to a registry that is not on loopback: REGISTRY_REFUSED before any connection', async () => {
    const layout = await preparedHome();
    const before = await treeSnapshot(layout.home);
    const run = await runCarapace(['--home', layout.home, '--json', 'plugin', 'add', '--plain-http', 'registry.example:5000/x/y:v1']);
    expect(run.status).toBe(8);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'REGISTRY_REFUSED' } });
    expect(await treeSnapshot(layout.home)).toEqual(before);
  });
});
