import { lstat, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HomeLayout } from '../../src/config/carapace-home.js';
import { imageBuildMemoFile } from '../../src/daemon/image-build-memo.js';
import { signLocally } from '../../src/daemon/local-pins.js';
import { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { loadLockFile, pinOf, updateLockFile, withPin, type LockFile } from '../../src/trust/lock-file.js';
import { loadTrustPolicy } from '../../src/trust/trust-policy.js';
import { podmanSocket } from '../support/podman.js';
import { runCarapace } from '../support/run-cli-in-process.js';
import { containersOf, gateHome, lifecycleRecords, startCoreIn } from './gate-support.js';

/**
 * Built-in plugins are built on the user's machine, so the first start of a home signs them with
 * the home's own key and pins them; from then on a start runs them only if the package still
 * builds to the pinned digest, and `carapace image build` is the one way to move the pin.
 */
describe('built-in plugin images: pinned at the first start, held to the pin after', () => {
  let runtime: DockerApiRuntime;
  let layout: HomeLayout;
  let firstLock: LockFile;

  beforeAll(async () => {
    runtime = await DockerApiRuntime.connect(podmanSocket());
    layout = await gateHome();
  });

  afterAll(async () => {
    await runtime?.[Symbol.asyncDispose]();
  });

  const startAndReport = async () => {
    const core = await startCoreIn(layout);
    try {
      return { plugins: core.plugins(), echoContainers: await containersOf(runtime, layout, 'echo') };
    } finally {
      await core.stopAll();
    }
  };

  it('signs and pins echo and memory at the first start, with the local key trusted as "local", and audits each pin', async () => {
    const { plugins } = await startAndReport();
    expect(plugins.map((plugin) => [plugin.name, plugin.state]).sort()).toEqual([['echo', 'running'], ['memory', 'running']]);
    firstLock = await loadLockFile(layout.lockFile);
    expect(Object.keys(firstLock.plugins).sort()).toEqual(['echo', 'memory']);
    for (const name of ['echo', 'memory']) {
      const pinned = pinOf(firstLock, name);
      expect(pinned).toMatchObject({ image: `localhost/carapace/plugin-${name}`, digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
      expect((await lstat(join(layout.home, pinned?.bundle ?? ''))).mode & 0o777).toBe(0o600);
      expect((await runtime.findImage(`${pinned?.image ?? ''}@${pinned?.digest ?? ''}`))?.digests).toContain(`${pinned?.image ?? ''}@${pinned?.digest ?? ''}`);
    }
    expect((await lstat(layout.lockFile)).mode & 0o777).toBe(0o600);
    expect((await loadTrustPolicy(layout.trustPolicyFile)).keys.map((key) => key.id)).toEqual(['local']);
    expect(lifecycleRecords(layout).filter((record) => record.topic === 'image.pinned').map((record) => record.source).sort()).toEqual(['echo', 'memory']);
  });

  it('leaves the pins alone at the next start, verifies from the cache, and signs nothing new', async () => {
    const lockText = await readFile(layout.lockFile, 'utf8');
    const { plugins } = await startAndReport();
    expect(plugins.every((plugin) => plugin.state === 'running')).toBe(true);
    expect(await readFile(layout.lockFile, 'utf8')).toBe(lockText);
    expect(lifecycleRecords(layout).filter((record) => record.topic === 'image.pinned')).toHaveLength(2);
    const cache = JSON.parse(await readFile(layout.verificationCacheFile, 'utf8')) as { entries: { result: { digest: string } }[] };
    expect(cache.entries.map((entry) => entry.result.digest)).toContain(pinOf(firstLock, 'echo')?.digest);
    // What the builds learned (recipes, digests) is kept owner-only, so this start composed nothing.
    expect((await lstat(imageBuildMemoFile(layout))).mode & 0o777).toBe(0o600);
    const memo = JSON.parse(await readFile(imageBuildMemoFile(layout), 'utf8')) as { entries: { value: string }[] };
    expect(memo.entries.some((entry) => entry.value.includes(pinOf(firstLock, 'echo')?.digest ?? '-'))).toBe(true);
  });

  it('ignores a corrupt build memo: the start checks the package against the pin again, runs, and rewrites the memo', async () => {
    await writeFile(imageBuildMemoFile(layout), '{"version":1,"entries":[{"key":"tampered"', { mode: 0o600 });
    const { plugins } = await startAndReport();
    expect(plugins.every((plugin) => plugin.state === 'running')).toBe(true);
    const memo = JSON.parse(await readFile(imageBuildMemoFile(layout), 'utf8')) as { entries: { value: string }[] };
    expect(memo.entries.some((entry) => entry.value.includes(pinOf(firstLock, 'memory')?.digest ?? '-'))).toBe(true);
  });

  it('refuses a built-in whose pin is not what the package builds (IMAGE_DIGEST_MISMATCH), with no container, while the others serve', async () => {
    // The build memo remembers that the package builds to the old pin; it must not decide for the new one.
    const other = `sha256:${'e'.repeat(64)}`;
    await signLocally(layout, other);
    await updateLockFile(layout.lockFile, (lock) => withPin(lock, 'echo', { ...(pinOf(lock, 'echo') ?? never()), digest: other, bundle: `bundles/sha256-${'e'.repeat(64)}.sigstore.json` }));
    const { plugins, echoContainers } = await startAndReport();
    const echo = plugins.find((plugin) => plugin.name === 'echo');
    expect(echo).toMatchObject({ state: 'failed', problem: { code: 'IMAGE_DIGEST_MISMATCH' } });
    expect(echo?.problem?.message).toContain(other);
    expect(echo?.problem?.message).toContain(pinOf(firstLock, 'echo')?.digest);
    expect(echo?.problem?.message).toContain('carapace image build');
    expect(echoContainers).toEqual([]);
    expect(plugins.find((plugin) => plugin.name === 'memory')?.state).toBe('running');
    expect(lifecycleRecords(layout).filter((record) => record.topic === 'plugin.failed' && record.source === 'echo').map((record) => record.code)).toEqual(['IMAGE_DIGEST_MISMATCH']);
  });

  it('carapace image build re-pins what the package builds, showing progress; the next start runs it', async () => {
    const built = await runCarapace(['--json', '--home', layout.home, 'image', 'build', 'echo']);
    expect(built.status).toBe(0);
    expect(built.stderr).toMatch(/^building echo .*\nbuilt echo in \d+\.\d s/);
    const data = JSON.parse(built.stdout) as { images: { plugin: string; digest: string }[] };
    expect(data.images).toEqual([expect.objectContaining({ plugin: 'echo', digest: pinOf(firstLock, 'echo')?.digest })]);
    expect(pinOf(await loadLockFile(layout.lockFile), 'echo')?.digest).toBe(pinOf(firstLock, 'echo')?.digest);
    const { plugins } = await startAndReport();
    expect(plugins.find((plugin) => plugin.name === 'echo')?.state).toBe('running');

    const verified = await runCarapace(['--home', layout.home, 'image', 'verify', 'echo']);
    expect(verified.stdout).toMatch(/^PASS echo sha256:[0-9a-f]{64}: signed by key local \(sha256:[0-9a-f]{64}\)\n$/);
  });

  it('builds the same digests in another fresh home: the pin is a fact about the package, not the machine', async () => {
    const other = await gateHome();
    const built = await runCarapace(['--json', '--home', other.home, 'image', 'build']);
    expect(built.status).toBe(0);
    const digests = (JSON.parse(built.stdout) as { images: { plugin: string; digest: string }[] }).images.map((image) => [image.plugin, image.digest]);
    expect(digests).toEqual([
      ['echo', pinOf(firstLock, 'echo')?.digest],
      ['memory', pinOf(firstLock, 'memory')?.digest],
    ]);
  });

  it('refuses image build for a plugin that is not built in', async () => {
    const run = await runCarapace(['--json', '--home', layout.home, 'image', 'build', 'hostile']);
    expect(run.status).toBe(2);
  });
});

function never(): never {
  throw new Error('echo was not pinned');
}
