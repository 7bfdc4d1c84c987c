import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCarapaceHome, type HomeLayout } from '../../src/config/carapace-home.js';
import { RegistryClient } from '../../src/registry/registry-client.js';
import { pushSignatureBundle } from '../../src/registry/signature-artifact.js';
import { loadLockFile } from '../../src/trust/lock-file.js';
import { signImageDigestKeyless } from '../../src/trust/sign-image.js';
import { saveTrustPolicy } from '../../src/trust/trust-policy.js';
import { podman } from '../images/podman-cli.js';
import { startLoopbackRegistry, type LoopbackRegistry } from '../support/docker-registry.js';
import { podmanSocket } from '../support/podman.js';
import { freshHome, runCarapace } from '../support/run-cli-in-process.js';
import { startMockSigstore } from '../support/sigstore-mock.js';
import { pushBuiltImage, smallPluginImage, treeSnapshot } from './registry-fixtures.js';

/**
 * `plugin add` of an image signed keylessly: a Fulcio certificate for a CI identity, a Rekor entry
 * and a timestamp, from @sigstore/mock's services (in-process, real crypto), checked against a
 * policy that names the identity and requires the log entry and the timestamp.
 */

const ISSUER = 'https://token.actions.example';
const SUBJECT = 'https://ci.example/acme/weather/.github/workflows/release.yml@refs/tags/v1.0.0';

let registry: LoopbackRegistry;
let client: RegistryClient;
let trustedRoot: Record<string, unknown>;
const images = { signed: smallPluginImage('keyless-plugin'), other: smallPluginImage('keyless-other') };
const loaded: string[] = [];

beforeAll(async () => {
  registry = await startLoopbackRegistry();
  client = new RegistryClient(registry.host, { plainHttp: true });
  const bundles = new Map<string, Buffer>();
  {
    // The mock turns off real network while it is open; sign first, then talk to the registry.
    await using sigstore = await startMockSigstore();
    trustedRoot = sigstore.trustedRoot;
    for (const [name, image] of Object.entries(images)) {
      const bundle = await signImageDigestKeyless(image.manifestDigest, {
        identityToken: sigstore.identityToken(SUBJECT, ISSUER),
        fulcioURL: sigstore.fulcioURL,
        rekorURL: sigstore.rekorURL,
        tsaURL: sigstore.tsaURL,
      });
      bundles.set(name, Buffer.from(JSON.stringify(bundle)));
    }
  }
  for (const [name, image] of Object.entries(images)) {
    const pushed = await pushBuiltImage(client, `acme/${name}`, 'v1', image);
    await pushSignatureBundle(client, `acme/${name}`, pushed, bundles.get(name) ?? Buffer.alloc(0));
  }
});

afterAll(async () => {
  for (const reference of loaded) await podman(['rmi', '--force', reference]);
  await client?.[Symbol.asyncDispose]();
  await registry?.stop();
}, 60_000);

async function homeTrusting(subjectPattern: string): Promise<HomeLayout> {
  const home = await freshHome();
  await mkdir(home, { mode: 0o700 });
  await writeFile(join(home, 'config.toml'), `[runtime]\nsocket = "${podmanSocket()}"\n`, { mode: 0o600 });
  const layout = await ensureCarapaceHome(home);
  await writeFile(join(layout.trustDir, 'trusted-root.json'), JSON.stringify(trustedRoot), { mode: 0o600 });
  await saveTrustPolicy(layout.trustPolicyFile, {
    version: 1,
    keys: [],
    keyless: [{ issuer: ISSUER, subjectPattern }],
    requireTransparencyLog: true,
    requireTimestamp: true,
    trustedRootFile: 'trusted-root.json',
  });
  return layout;
}

describe('plugin add with a keyless signature', () => {
  it('adds an image whose certificate identity the policy allows, and pins it', async () => {
    const layout = await homeTrusting('https://ci\\.example/acme/.+@refs/tags/v.*');
    loaded.push(`${registry.host}/acme/signed@${images.signed.manifestDigest}`);
    const run = await runCarapace(['--home', layout.home, '--json', 'plugin', 'add', '--plain-http', `${registry.host}/acme/signed:v1`]);
    expect(run.status, run.stdout).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ plugin: 'keyless-plugin', signer: { kind: 'keyless', subject: SUBJECT, issuer: ISSUER } });
    expect((await loadLockFile(layout.lockFile)).plugins['keyless-plugin']).toMatchObject({ digest: images.signed.manifestDigest });
  });

  it('refuses another identity with SIGNATURE_IDENTITY_MISMATCH, changing nothing', async () => {
    const layout = await homeTrusting('https://ci\\.example/other-org/.+');
    const before = await treeSnapshot(layout.home);
    const run = await runCarapace(['--home', layout.home, '--json', 'plugin', 'add', '--plain-http', `${registry.host}/acme/other:v1`]);
    expect(run.status).toBe(8);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'SIGNATURE_IDENTITY_MISMATCH' } });
    expect(await treeSnapshot(layout.home)).toEqual(before);
    expect((await podman(['images', '--digests', '--format', '{{.Digest}}'])).stdout).not.toContain(images.other.manifestDigest);
  });
});
