import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { homeLabels } from '../../src/core/container-labels.js';
import { loadLockFile } from '../../src/trust/lock-file.js';
import type { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { canaryImageDefinition } from '../../src/images/canary-image.js';
import { composeImage } from '../../src/images/image-builder.js';
import { podman } from '../images/podman-cli.js';
import { connectTestPodman, loadCanary, makeSocketDir, sh, testSpec } from '../support/podman-test-runtime.js';
import { PACKAGE_VERSION, snapshotTree } from './installer-harness.js';
import { buildRelease, copyRelease, createReleaseKey, deriveRelease, setTreeVersion, signReleaseFile, tarballOf, type ReleaseKey } from './release-fixture.js';
import { ReleaseServer } from './release-server.js';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command without blocking the event loop (the release server runs in this process). */
function runCommand(command: string, args: readonly string[], env: Record<string, string>, stdin = ''): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => void (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString('utf8')));
    child.stdin.end(stdin);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// `carapace update` and `carapace uninstall` of real releases built by scripts/release.sh, served
// on loopback, against the test Podman service: the new version's image build and doctor run for
// real, and a release whose doctor fails is rolled back.
describe('carapace update and uninstall', { timeout: 600_000 }, () => {
  let root: string;
  let server: ReleaseServer;
  let key: ReleaseKey;
  let otherKey: ReleaseKey;
  let runtime: DockerApiRuntime;
  const [major, minor, patch] = PACKAGE_VERSION.split('-')[0]!.split('.').map(Number) as [number, number, number];
  const v2 = `${major}.${minor}.${patch + 1}`;
  const v3 = `${major}.${minor}.${patch + 2}`;
  let prefix: string;
  let home: string;
  let env: Record<string, string>;
  const installDir = (): string => join(prefix, 'lib', 'carapace');
  const carapace = (args: readonly string[], stdin?: string): Promise<Run> => runCommand(join(prefix, 'bin', 'carapace'), ['--home', home, ...args], env, stdin);
  const watched = (): Record<string, string> => snapshotTree(join(prefix, 'lib'), join(prefix, 'bin'), home);
  const stagingLeft = (): string[] => readdirSync(join(prefix, 'lib')).filter((name) => name.startsWith('.carapace-'));
  const installedVersion = (dir = installDir()): string => (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;

  /** Installs release `name` with its published install.sh into PREFIX, for HOME. */
  const install = async (name: string, into: string, carapaceHome: string): Promise<void> => {
    const run = await runCommand('dash', [join(server.root, name, 'install.sh'), '--prefix', into], { ...env, CARAPACE_HOME: carapaceHome });
    if (run.code !== 0) throw new Error(`install.sh failed: ${run.stderr}`);
  };
  const setConfig = async (key: string, value: string, at = home, under = prefix): Promise<void> => {
    const run = await runCommand(join(under, 'bin', 'carapace'), ['--home', at, 'config', 'set', key, value], env);
    if (run.code !== 0) throw new Error(`config set failed: ${run.stderr}`);
  };

  beforeAll(async () => {
    const socket = inject('podmanSocket');
    if (socket === '') throw new Error(`update tests need Podman: ${inject('podmanUnavailable')}`);
    runtime = await connectTestPodman();
    root = mkdtempSync(join(tmpdir(), 'carapace-update-test-'));
    server = await ReleaseServer.start(join(root, 'serve'));
    key = createReleaseKey(root, 'release');
    otherKey = createReleaseKey(root, 'other');
    await buildRelease({ key, out: join(server.root, 'v1'), url: server.url('v1') });
    // v2's built-in plugin images and canary differ from every other test's (a comment in their
    // inputs), so removing them at uninstall cannot touch images another test uses.
    await deriveRelease(
      join(server.root, 'v1'),
      key,
      join(server.root, 'v2'),
      (tree) => {
        setTreeVersion(tree, v2);
        const marker = `update test ${root}`;
        for (const plugin of ['echo', 'memory']) appendFileSync(join(tree, 'dist', 'plugins', plugin, 'main.js'), `// ${marker}\n`);
        appendFileSync(join(tree, 'images', 'canary', 'probe.sh'), `# ${marker}\n`);
      },
      server.url('v2'),
    );
    // v3's doctor always fails, as a release broken on this machine would.
    await deriveRelease(join(server.root, 'v1'), key, join(server.root, 'v3'), (tree) => {
      setTreeVersion(tree, v3);
      const main = join(tree, 'dist', 'cli', 'main.js');
      const [shebang, ...rest] = readFileSync(main, 'utf8').split('\n');
      const broken = "if (process.argv.includes('doctor')) { process.stdout.write('  FAIL  Injected: this release cannot run here\\n'); process.exit(1); }";
      writeFileSync(main, [shebang, broken, ...rest].join('\n'));
    });
    prefix = join(root, 'prefix');
    home = join(root, 'carapace-home');
    env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: join(root, 'user-home') };
    await install('v1', prefix, home);
    await setConfig('runtime.socket', socket);
    await setConfig('update.url', server.url('v2'));
  }, 600_000);

  afterAll(async () => {
    await runtime?.[Symbol.asyncDispose]();
    await server?.[Symbol.asyncDispose]();
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  it('never contacts update.url on its own; update --check verifies release.json and says what is available, changing nothing', async () => {
    // install.sh made the only requests so far.
    const installRequests = server.requests.length;
    for (const args of [['doctor'], ['status'], ['config', 'show'], ['plugin', 'list']]) await carapace(args);
    expect(server.requests.length).toBe(installRequests);
    const before = watched();
    const check = await carapace(['update', '--check']);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
    expect(check.stdout).toContain(`installed: ${PACKAGE_VERSION}\navailable: ${v2} (release.json signed by release key ${key.keyId})`);
    expect(server.requests.slice(installRequests).map((request) => request.path)).toEqual(['/v2/release.json', '/v2/release.json.sigstore.json']);
    expect(watched()).toEqual(before);
  });

  /** A copy of release v2 with one thing changed, served as `name`. */
  const variant = async (name: string, change: (dir: string, tarball: string) => Promise<void> | void): Promise<string> => {
    const dir = join(server.root, name);
    await copyRelease(join(server.root, 'v2'), dir);
    await change(dir, tarballOf(dir));
    return server.url(name);
  };

  it.each([
    ['a tampered tarball', 8, 'RELEASE_DIGEST_MISMATCH', (dir: string, tarball: string) => {
      const bytes = readFileSync(join(dir, tarball));
      bytes.writeUInt8(bytes.readUInt8(bytes.length >> 1) ^ 0x20, bytes.length >> 1);
      writeFileSync(join(dir, tarball), bytes);
    }],
    ['release.json signed by another key', 8, 'SIGNATURE_UNTRUSTED', (dir: string) => signReleaseFile(join(dir, 'release.json'), otherKey)],
    ['release.json changed after signing', 8, 'SIGNATURE_INVALID', (dir: string) => {
      const file = join(dir, 'release.json');
      writeFileSync(file, readFileSync(file, 'utf8').replace(/"size": \d+/, '"size": 1'));
    }],
    ['a tarball signed by another key', 8, 'SIGNATURE_UNTRUSTED', (dir: string, tarball: string) => signReleaseFile(join(dir, tarball), otherKey)],
  ])('refuses %s, changing nothing', async (name, status, code, change) => {
    await setConfig('update.url', await variant(name.replace(/\W+/g, '-'), change));
    const before = watched();
    const run = await carapace(['update', '--yes']);
    expect(run.code).toBe(status);
    expect(run.stderr).toContain(`[${code}]`);
    expect(watched()).toEqual(before);
    expect(stagingLeft()).toEqual([]);
    expect(installedVersion()).toBe(PACKAGE_VERSION);
  });

  it('refuses a release key revoked in the home (carapace trust revoke), changing nothing', async () => {
    await setConfig('update.url', server.url('v2'));
    const revoked = await carapace(['trust', 'revoke', '--key', key.keyId, '--reason', 'release key leaked']);
    expect(revoked.code).toBe(0);
    try {
      const before = watched();
      const run = await carapace(['update', '--yes']);
      expect(run.code).toBe(8);
      expect(run.stderr).toContain('release key leaked');
      expect(run.stderr).toContain('[TRUST_REVOKED]');
      expect(watched()).toEqual(before);
    } finally {
      rmSync(join(home, 'trust', 'revoked.json'));
    }
  });

  it('asks before installing, and without a terminal refuses unless --yes', async () => {
    await setConfig('update.url', server.url('v2'));
    const before = watched();
    const run = await carapace(['update']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no terminal to confirm the update on: pass --yes [CLI_USAGE]');
    expect(watched()).toEqual(before);
  });

  it('updates: installs v2 beside v1, re-pins the built-in images with it, passes its doctor, keeps v1 as previous', async () => {
    const run = await carapace(['update', '--yes']);
    expect(run.stderr).toContain(`running carapace doctor with the new version`);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`updated Carapace ${PACKAGE_VERSION} -> ${v2} in ${installDir()}`);
    expect(run.stdout).toContain('checked: carapace image build and carapace doctor passed');
    expect(installedVersion()).toBe(v2);
    expect(installedVersion(`${installDir()}.previous`)).toBe(PACKAGE_VERSION);
    expect((await carapace(['--version'])).stdout.trim()).toBe(v2);
    // Extracted for this user alone, as install.sh extracts with umask 077.
    expect(statSync(join(installDir(), 'dist', 'cli', 'main.js')).mode & 0o077).toBe(0);
    expect(statSync(join(installDir(), 'bin', 'carapace')).mode & 0o777).toBe(0o700);
    expect(Object.keys((await loadLockFile(join(home, 'carapace.lock'))).plugins).sort()).toEqual(['echo', 'memory']);
    expect(stagingLeft()).toEqual([]);
    const again = await carapace(['update', '--yes']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Carapace ${v2} is up to date`);
  });

  it('rolls back an update whose doctor fails: v2 runs afterwards with its pins, and v1 is still the previous version', async () => {
    await setConfig('update.url', server.url('v3'));
    const lockBefore = readFileSync(join(home, 'carapace.lock'));
    const run = await carapace(['update', '--yes']);
    expect(run.code).toBe(9);
    expect(run.stderr).toContain(`carapace doctor failed with ${v3}; rolled back to ${v2}`);
    expect(run.stderr).toContain('Injected: this release cannot run here');
    expect(run.stderr).toContain('[UPDATE_FAILED]');
    expect(installedVersion()).toBe(v2);
    expect(installedVersion(`${installDir()}.previous`)).toBe(PACKAGE_VERSION);
    expect(readFileSync(join(home, 'carapace.lock')).equals(lockBefore)).toBe(true);
    expect(stagingLeft()).toEqual([]);
    const doctor = await carapace(['doctor']);
    expect(doctor.stdout).toContain('All checks passed.');
    expect(doctor.code).toBe(0);
  });

  it('uninstalls: removes the containers, the pinned images and the installation, keeps the home with its credentials and images others use', async () => {
    const stored = await carapace(['auth', 'set', 'echo', 'API_TOKEN'], 'secret-value\n');
    expect(stored.code).toBe(0);
    // A container of this home, as a running core would leave.
    await using socketDir = await makeSocketDir();
    const canary = await loadCanary(runtime);
    const leftover = await runtime.start(testSpec(canary.imageId, socketDir.path, home, { command: sh('sleep 60') }));
    const pins = Object.values((await loadLockFile(join(home, 'carapace.lock'))).plugins);
    // v2's canary, used by a container that is not this home's: shared, so it stays.
    const v2Canary = await composeImage(canaryImageDefinition({ imagesDir: join(installDir(), 'images') }));
    expect(await runtime.findImage(v2Canary.reference)).toBeDefined();
    const otherUser = await podman(['create', '--name', `carapace-update-test-${v2.replace(/\W/g, '-')}`, v2Canary.reference]);
    expect(otherUser.exitCode).toBe(0);

    const run = await carapace(['uninstall', '--yes']);
    await podman(['rm', '--force', otherUser.stdout.trim()]);
    await runtime.removeImage(v2Canary.reference);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`removed container ${leftover.id}`);
    expect(run.stdout).toContain(`kept image ${v2Canary.reference}: another container still uses it`);
    for (const pin of pins) expect(run.stdout).toContain(`removed image ${pin.image}@${pin.digest}`);
    expect(run.stdout).toContain(`kept ${home}: your data stays unless you pass --purge`);
    expect(run.stdout).toContain('credentials/ (1 stored credential)');
    for (const gone of [installDir(), `${installDir()}.previous`, join(prefix, 'bin', 'carapace')]) {
      expect(run.stdout).toContain(`removed ${gone}`);
      expect(lstatSync(gone, { throwIfNoEntry: false })).toBeUndefined();
    }
    expect(await runtime.list(homeLabels(home))).toEqual([]);
    for (const pin of pins) expect(await runtime.findImage(`${pin.image}@${pin.digest}`)).toBeUndefined();
    expect(readFileSync(join(home, 'credentials', 'echo', 'API_TOKEN'), 'utf8')).toBe('secret-value');
  });

  it('uninstall --purge removes the home too', async () => {
    const otherPrefix = join(root, 'prefix-2');
    const otherHome = join(root, 'carapace-home-2');
    await install('v2', otherPrefix, otherHome);
    // The test's Podman service: without it, runtime detection would start one inside the home.
    await setConfig('runtime.socket', inject('podmanSocket'), otherHome, otherPrefix);
    const run = await runCommand(join(otherPrefix, 'bin', 'carapace'), ['--home', otherHome, 'uninstall', '--yes', '--purge'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`removed ${otherHome}`);
    expect(run.stdout).not.toContain('kept');
    expect(existsSync(otherHome)).toBe(false);
    expect(existsSync(join(otherPrefix, 'lib', 'carapace'))).toBe(false);
  });
});
