import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { homeLayout } from '../../src/config/carapace-home.js';
import { RegistryClient } from '../../src/registry/registry-client.js';
import { fetchSignatureBundle } from '../../src/registry/signature-artifact.js';
import { loadLockFile } from '../../src/trust/lock-file.js';
import { EMPTY_REVOCATION_LIST } from '../../src/trust/revocation-list.js';
import { loadTrustPolicy } from '../../src/trust/trust-policy.js';
import { verifyImageSignature } from '../../src/trust/verify-image.js';
import { startLoopbackRegistry, type LoopbackRegistry } from '../support/docker-registry.js';
import { podmanSocket } from '../support/podman.js';
import { freshHome, runCarapace } from '../support/run-cli-in-process.js';

/**
 * `carapace image push`: a built-in image, built and signed by `image build`, published with its
 * signature; what lands in the registry is the pinned digest and a bundle that verifies.
 */

let registry: LoopbackRegistry;
let client: RegistryClient;
let home: string;

beforeAll(async () => {
  registry = await startLoopbackRegistry();
  client = new RegistryClient(registry.host, { plainHttp: true });
  home = await freshHome();
  await mkdir(home, { mode: 0o700 });
  await writeFile(join(home, 'config.toml'), `[runtime]\nsocket = "${podmanSocket()}"\n`, { mode: 0o600 });
  const built = await runCarapace(['--home', home, 'image', 'build', 'echo']);
  if (built.status !== 0) throw new Error(`image build failed: ${built.stderr}`);
}, 180_000);

afterAll(async () => {
  await client?.[Symbol.asyncDispose]();
  await registry?.stop();
});

describe('carapace image push', () => {
  it('pushes the pinned digest under the tag and its bundle under sha256-<hex>.sigstore', async () => {
    const layout = homeLayout(home);
    const pinned = (await loadLockFile(layout.lockFile)).plugins['echo'];
    const run = await runCarapace(['--home', home, '--json', 'image', 'push', '--plain-http', 'echo', `${registry.host}/carapace/echo:0.1.0`]);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ plugin: 'echo', digest: pinned?.digest, tag: '0.1.0' });

    const digest = await client.resolveTag('carapace/echo', '0.1.0');
    expect(digest).toBe(pinned?.digest);
    const bundle = await fetchSignatureBundle(client, 'carapace/echo', digest);
    const policy = await loadTrustPolicy(layout.trustPolicyFile);
    expect(verifyImageSignature({ manifestDigest: digest, bundle: bundle.json, policy, revocations: EMPTY_REVOCATION_LIST }).signer).toMatchObject({ kind: 'key', keyId: 'local' });
  });

  it('refuses a plugin it does not build, and a target without a tag', async () => {
    const notBuiltin = await runCarapace(['--home', home, '--json', 'image', 'push', '--plain-http', 'weather', `${registry.host}/x/y:1`]);
    expect(JSON.parse(notBuiltin.stdout)).toMatchObject({ error: { code: 'CLI_USAGE' } });
    const noTag = await runCarapace(['--home', home, '--json', 'image', 'push', '--plain-http', 'echo', `${registry.host}/x/y@sha256:${'a'.repeat(64)}`]);
    expect(JSON.parse(noTag.stdout)).toMatchObject({ error: { code: 'CLI_USAGE' } });
  });
});
