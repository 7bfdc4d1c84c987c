import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chownTree,
  createSandbox,
  installUser,
  PACKAGE_VERSION,
  privilegeCalls,
  requireTool,
  runInstaller,
  runInstallerAsync,
  type Sandbox,
  snapshotTree,
  stagingDirs,
  signalInstaller,
  startInstaller,
} from './installer-harness.js';
import { buildRelease, copyRelease, createReleaseKey, deriveRelease, setTreeVersion, signReleaseFile, tarballOf, type ReleaseKey } from './release-fixture.js';
import { ReleaseServer } from './release-server.js';

// Real releases built by scripts/release.sh, served over loopback HTTP, installed by install.sh as
// a non-root user with fake sudo/su/doas first on PATH.
describe('install.sh installing a signed release', { timeout: 300_000 }, () => {
  let serveRoot: string;
  let keys: string;
  let server: ReleaseServer;
  let key: ReleaseKey;
  let otherKey: ReleaseKey;
  let sandbox: Sandbox;
  let libDir: string;
  let installDir: string;
  let carapaceHome: string;
  const [major, minor, patch] = PACKAGE_VERSION.split('-')[0]!.split('.').map(Number) as [number, number, number];
  const nextVersion = `${major}.${minor}.${patch + 1}`;
  let watched: () => Record<string, string>;

  beforeAll(async () => {
    requireTool('dash', 'dash');
    requireTool('curl', 'curl');
    requireTool('wget', 'wget');
    serveRoot = mkdtempSync(join(tmpdir(), 'carapace-releases-'));
    server = await ReleaseServer.start(serveRoot);
    keys = mkdtempSync(join(tmpdir(), 'carapace-release-keys-'));
    key = createReleaseKey(keys, 'release');
    otherKey = createReleaseKey(keys, 'other');
    const first = await buildRelease({ key, out: join(serveRoot, 'v1'), url: server.url('v1') });
    console.info(`release.sh built the first release in ${first.seconds.toFixed(1)} s`);
    await deriveRelease(join(serveRoot, 'v1'), key, join(serveRoot, 'v2'), (tree) => setTreeVersion(tree, nextVersion), server.url('v2'));
    sandbox = createSandbox(installUser());
    writeFileSync(join(sandbox.root, 'release.pub'), key.publicKeyPem);
    chownTree(sandbox.root, sandbox.user);
    libDir = join(sandbox.home, '.local', 'lib');
    installDir = join(libDir, 'carapace');
    carapaceHome = join(sandbox.home, '.carapace');
    watched = () => snapshotTree(join(sandbox.home, '.local'), carapaceHome);
  }, 300_000);

  afterAll(async () => {
    await server?.[Symbol.asyncDispose]();
    for (const dir of [serveRoot, keys, sandbox?.root]) if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const carapaceVersion = (): string => {
    const run = runInstaller(sandbox, [], { argv: [join(sandbox.home, '.local', 'bin', 'carapace'), '--version'] });
    expect(run.stderr).toBe('');
    return run.stdout.trim();
  };
  const fromRelease = (name: string): string[] => ['--from', server.url(name), '--release-key', join(sandbox.root, 'release.pub')];
  const fetchText = async (url: string): Promise<Buffer> => Buffer.from(await (await fetch(url)).arrayBuffer());

  it('installs with the two-step path under dash without root: fetch install.sh, check its SHA-256, run it', async () => {
    const script = await fetchText(`${server.url('v1')}/install.sh`);
    const sums = (await fetchText(`${server.url('v1')}/SHA256SUMS`)).toString('utf8');
    expect(sums).toContain(`${createHash('sha256').update(script).digest('hex')}  install.sh\n`);
    const published = join(sandbox.root, 'install-v1.sh');
    writeFileSync(published, script);
    chownTree(published, sandbox.user);

    const started = Date.now();
    const run = await runInstallerAsync(sandbox, [], { argv: ['dash', published], cwd: sandbox.home });
    console.info(`install.sh (download + verify + extract + checks) took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`installed Carapace ${PACKAGE_VERSION} in ${installDir}`);
    expect(run.stdout).toContain(`verified: SHA256SUMS is signed by the release key ${key.keyId} (from this install.sh)`);
    expect(run.stdout).toContain('not verified here: this install.sh itself');
    expect(run.stdout.trim().split('\n').at(-1)).toBe('==> next: carapace doctor');
    expect(readlinkSync(join(sandbox.home, '.local', 'bin', 'carapace'))).toBe(join(installDir, 'bin', 'carapace'));
    expect(carapaceVersion()).toBe(PACKAGE_VERSION);

    for (const dir of [carapaceHome, join(carapaceHome, 'credentials')]) {
      const stats = lstatSync(dir);
      expect(stats.isDirectory()).toBe(true);
      expect(stats.mode & 0o777).toBe(0o700);
      expect(stats.uid).toBe(sandbox.user.uid);
    }
    // umask 077: the installation is the user's alone, and nothing asked for more.
    expect(statSync(join(installDir, 'dist', 'cli', 'main.js')).mode & 0o077).toBe(0);
    expect(statSync(join(installDir, 'dist', 'cli', 'main.js')).uid).toBe(sandbox.user.uid);
    expect(sandbox.user.uid).not.toBe(0);
    expect(privilegeCalls(sandbox)).toBe('');
    expect(stagingDirs(libDir)).toEqual([]);
    expect(existsSync(`${installDir}.previous`)).toBe(false);
  });

  it('upgrades under bash, keeping the first installation as carapace.previous and honouring CARAPACE_HOME', async () => {
    const otherHome = join(sandbox.root, 'other-carapace-home');
    const run = await runInstallerAsync(sandbox, fromRelease('v2'), { shell: 'bash', env: { CARAPACE_HOME: otherHome } });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`installed Carapace ${nextVersion}`);
    expect(run.stdout).toContain(`the previous installation is kept in ${installDir}.previous`);
    expect(run.stdout).toContain(`keep CARAPACE_HOME=${otherHome} set when you run carapace`);
    for (const dir of [otherHome, join(otherHome, 'credentials')]) expect(lstatSync(dir).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(join(`${installDir}.previous`, 'package.json'), 'utf8'))).toMatchObject({ version: PACKAGE_VERSION });
    expect(carapaceVersion()).toBe(nextVersion);
    expect(privilegeCalls(sandbox)).toBe('');
    expect(stagingDirs(libDir)).toEqual([]);
  });

  /** A copy of release v2 with one thing changed, served as `name`. */
  const variant = async (name: string, change: (dir: string, tarball: string) => Promise<void> | void): Promise<void> => {
    const dir = join(serveRoot, name);
    await copyRelease(join(serveRoot, 'v2'), dir);
    await change(dir, tarballOf(dir));
  };
  const editSums = (dir: string, tarball: string, edit: (line: string) => string): void => {
    const file = join(dir, 'SHA256SUMS');
    writeFileSync(file, readFileSync(file, 'utf8').split('\n').map((line) => (line.endsWith(`  ${tarball}`) ? edit(line) : line)).join('\n'));
  };

  it.each([
    ['a tampered tarball', 'does not match the SHA-256 in the signed SHA256SUMS', async (dir: string, tarball: string) => {
      const bytes = readFileSync(join(dir, tarball));
      bytes.writeUInt8(bytes.readUInt8(bytes.length >> 1) ^ 0x20, bytes.length >> 1);
      writeFileSync(join(dir, tarball), bytes);
    }],
    ['a wrong checksum in a SHA256SUMS the release key signed', 'does not match the SHA-256 in the signed SHA256SUMS', async (dir: string, tarball: string) => {
      editSums(dir, tarball, (line) => `${'0'.repeat(64)}${line.slice(64)}`);
      await signReleaseFile(join(dir, 'SHA256SUMS'), key);
    }],
    ['a wrong checksum in an unsigned SHA256SUMS', 'SHA256SUMS is not signed by the release key (the bundle is for other content)', (dir: string, tarball: string) => {
      editSums(dir, tarball, (line) => `${'0'.repeat(64)}${line.slice(64)}`);
    }],
    ['a tarball signed by another key', 'is not signed by the release key (signed by key', async (dir: string, tarball: string) => {
      await signReleaseFile(join(dir, tarball), otherKey);
    }],
    ['SHA256SUMS signed by another key', 'SHA256SUMS is not signed by the release key (signed by key', async (dir: string) => {
      await signReleaseFile(join(dir, 'SHA256SUMS'), otherKey);
    }],
    ['a bundle that is not a Sigstore bundle', 'is not signed by the release key (not a Sigstore bundle)', (dir: string, tarball: string) => {
      writeFileSync(join(dir, `${tarball}.sigstore.json`), '{"mediaType":"text/plain"}\n');
    }],
    ['a missing tarball signature', 'could not download', (dir: string, tarball: string) => rmSync(join(dir, `${tarball}.sigstore.json`))],
    ['no tarball for this platform', 'the release has no tarball for', async (dir: string, tarball: string) => {
      editSums(dir, tarball, (line) => line.replace(/-node\d+\.tar\.gz$/, '-node1.tar.gz'));
      await signReleaseFile(join(dir, 'SHA256SUMS'), key);
    }],
  ])('refuses %s, changing nothing on disk', async (name, message, change) => {
    const variantName = name.replace(/\W+/g, '-');
    await variant(variantName, change);
    const before = watched();
    const run = await runInstallerAsync(sandbox, fromRelease(variantName));
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(message);
    expect(run.stderr).toContain('nothing was installed');
    expect(watched()).toEqual(before);
    expect(stagingDirs(libDir)).toEqual([]);
    expect(carapaceVersion()).toBe(nextVersion);
    expect(privilegeCalls(sandbox)).toBe('');
  });

  it('does nothing when the published script is cut off anywhere, under dash and bash', async () => {
    const script = readFileSync(join(serveRoot, 'v2', 'install.sh'));
    // Every cut that drops the final `}`: each line boundary, and each of the last bytes before
    // the brace (where `main "$@"` would become `main`).
    const opening = script.indexOf('\n{\n') + 1;
    const closing = script.lastIndexOf('}');
    const cuts = new Set<number>([Math.floor(script.length / 2)]);
    script.forEach((byte, offset) => void (byte === 0x0a && offset + 1 < closing && cuts.add(offset + 1)));
    for (let offset = closing - 16; offset <= closing; offset += 1) cuts.add(offset);
    const cutDir = join(sandbox.root, 'cuts');
    mkdirSync(cutDir);
    const files = [...cuts].map((length) => {
      const file = join(cutDir, `install-${length}.sh`);
      writeFileSync(file, script.subarray(0, length));
      return file;
    });
    chownTree(cutDir, sandbox.user);

    const before = watched();
    const requestsBefore = server.requests.length;
    const loop = 'for f in "$@"; do for sh in dash bash; do "$sh" "$f" >/dev/null 2>&1; echo "$sh $f $?"; done; done';
    const run = await runInstallerAsync(sandbox, [], { argv: ['sh', '-c', loop, 'sh', ...files] });
    expect(run.status).toBe(0);
    const results = run.stdout.trim().split('\n');
    expect(results).toHaveLength(files.length * 2);
    // Only cuts inside the leading comment (no command at all) may exit 0; every other cut is a
    // syntax error before anything runs, so not one request reached the server.
    const succeeded = results.filter((line) => line.endsWith(' 0')).map((line) => Number(/install-(\d+)\.sh/.exec(line)?.[1]));
    expect(succeeded.filter((length) => length > opening)).toEqual([]);
    expect(server.requests.length).toBe(requestsBefore);
    expect(watched()).toEqual(before);
  });

  it('removes its staging directory and keeps the installation when stopped with SIGTERM mid-download', async () => {
    const tarballPath = `/v2/${tarballOf(join(serveRoot, 'v2'))}`;
    server.stalled.add(tarballPath);
    const before = watched();
    const child = startInstaller(sandbox, fromRelease('v2'));
    child.stdout?.resume();
    child.stderr?.resume();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!server.requests.some((request) => request.path === tarballPath) || stagingDirs(libDir).length === 0) {
      if (Date.now() > deadline) throw new Error('the installer never asked for the tarball');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    signalInstaller(child, 'SIGTERM');
    expect(await exited).not.toBe(0);
    server.stalled.delete(tarballPath);
    expect(stagingDirs(libDir)).toEqual([]);
    expect(watched()).toEqual(before);
    expect(carapaceVersion()).toBe(nextVersion);
  });

  /** A PATH directory mirroring /usr/bin without the named tools. */
  const pathWithout = (...hidden: string[]): string => {
    const dir = join(sandbox.root, `without-${hidden.join('-')}`);
    if (existsSync(dir)) return dir;
    mkdirSync(dir);
    for (const name of readdirSync('/usr/bin')) if (!hidden.includes(name)) symlinkSync(join('/usr/bin', name), join(dir, name));
    const node = process.execPath;
    if (!existsSync(join(dir, 'node'))) symlinkSync(node, join(dir, 'node'));
    return dir;
  };

  it.each([
    ['curl', 'HTTP_PROXY', () => [] as string[]],
    ['wget', 'HTTP_PROXY', () => ['curl']],
    ['wget', 'http_proxy', () => ['curl']],
  ])('downloads with %s through the proxy in %s', async (_tool, variable, hide) => {
    const hidden = hide();
    const requestsBefore = server.requests.length;
    const run = await runInstallerAsync(sandbox, ['--from', 'http://carapace-releases.test/v2', '--release-key', join(sandbox.root, 'release.pub')], {
      env: { [variable]: `http://127.0.0.1:${server.port}` },
      ...(hidden.length === 0 ? {} : { systemPath: [pathWithout(...hidden)] }),
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('downloading through the proxy in HTTP_PROXY/http_proxy');
    const proxied = server.requests.slice(requestsBefore);
    expect(proxied.map((request) => request.path)).toEqual([
      '/v2/SHA256SUMS',
      '/v2/SHA256SUMS.sigstore.json',
      `/v2/${tarballOf(join(serveRoot, 'v2'))}`,
      `/v2/${tarballOf(join(serveRoot, 'v2'))}.sigstore.json`,
    ]);
    expect(proxied.every((request) => request.proxied && request.host === 'carapace-releases.test')).toBe(true);
    expect(carapaceVersion()).toBe(nextVersion);
    expect(privilegeCalls(sandbox)).toBe('');
  });

  it('installs from a local directory without any network', async () => {
    const local = join(sandbox.root, 'local-release');
    await copyRelease(join(serveRoot, 'v1'), local);
    chownTree(local, sandbox.user);
    const requestsBefore = server.requests.length;
    const run = await runInstallerAsync(sandbox, ['--from', local, '--release-key', join(sandbox.root, 'release.pub')]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(server.requests.length).toBe(requestsBefore);
    expect(carapaceVersion()).toBe(PACKAGE_VERSION);
    expect(JSON.parse(readFileSync(join(`${installDir}.previous`, 'package.json'), 'utf8'))).toMatchObject({ version: nextVersion });
  });
});
