import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chownTree,
  createSandbox,
  INSTALL_SH,
  installUser,
  privilegeCalls,
  requireTool,
  runInstaller,
  type Sandbox,
  snapshotTree,
} from './installer-harness.js';
import { createReleaseKey, type ReleaseKey } from './release-fixture.js';

// The installer's refusals before it downloads anything, and its shape. Downloads, installs and
// the refusals of bad releases are in install-release.test.ts.
describe('install.sh before it downloads anything', { timeout: 60_000 }, () => {
  let sandbox: Sandbox;
  let prefix: string;
  let carapaceHome: string;
  let releaseDir: string;
  let key: ReleaseKey;
  let watched: () => Record<string, string>;

  beforeAll(() => {
    requireTool('dash', 'dash');
    requireTool('bash', 'bash');
    sandbox = createSandbox(installUser());
    prefix = join(sandbox.root, 'prefix');
    carapaceHome = join(sandbox.root, 'carapace-home');
    // A local release directory; these runs all stop before reading it.
    releaseDir = join(sandbox.root, 'release');
    mkdirSync(releaseDir);
    key = createReleaseKey(sandbox.root, 'release');
    // An earlier installation the installer must leave alone when it refuses.
    mkdirSync(join(prefix, 'lib', 'carapace'), { recursive: true });
    writeFileSync(join(prefix, 'lib', 'carapace', 'package.json'), '{"version":"0.0.1"}\n');
    chownTree(sandbox.root, sandbox.user);
    watched = () => snapshotTree(prefix, carapaceHome, sandbox.home);
  }, 60_000);

  afterAll(() => rmSync(sandbox.root, { recursive: true, force: true }));

  const install = (args: readonly string[], options: Parameters<typeof runInstaller>[2] = {}) =>
    runInstaller(sandbox, ['--from', releaseDir, '--release-key', key.publicKeyFile, '--prefix', prefix, ...args], {
      ...options,
      env: { CARAPACE_HOME: carapaceHome, ...options.env },
    });

  it('is clean under shellcheck as POSIX sh', () => {
    const shellcheck = requireTool('shellcheck', 'shellcheck');
    const result = spawnSync(shellcheck, ['-s', 'sh', INSTALL_SH], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it.each(['dash', 'bash'] as const)('prints its help under %s, exits 0 and changes nothing', (shell) => {
    const before = watched();
    const run = runInstaller(sandbox, ['--help'], { shell });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^usage: install\.sh \[--from URL\|DIR\] \[--prefix DIR\] \[--release-key FILE\]/);
    for (const documented of ['--from URL|DIR', '--prefix DIR', '--release-key FILE', 'CARAPACE_HOME', 'HTTPS_PROXY', 'Never uses sudo']) {
      expect(run.stdout).toContain(documented);
    }
    expect(run.stderr).toBe('');
    expect(watched()).toEqual(before);
  });

  it.each([
    [['--bogus'], 'unknown argument: --bogus'],
    [['--prefix'], '--prefix needs a value'],
    [['--prefix='], 'unknown argument: --prefix='],
    [['--from', ''], '--from needs a value'],
    [['extra'], 'unknown argument: extra'],
  ])('refuses %j with exit 2, a clear message, and no change', (args, message) => {
    const before = watched();
    const run = install(args);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`install.sh: ${message}\n`);
    expect(run.stdout).toBe('');
    expect(watched()).toEqual(before);
  });

  it.each(['dash', 'bash'] as const)('read from a pipe by %s, says so and recommends the two-step path', (shell) => {
    const before = watched();
    // The checkout's copy knows no release URL, so without --from it stops right after the notice.
    const run = runInstaller(sandbox, [], { argv: [shell, '-s', '--', '--prefix', prefix], stdin: readFileSync(INSTALL_SH, 'utf8'), env: { CARAPACE_HOME: carapaceHome } });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('running from a pipe. The recommended path is two steps');
    expect(run.stderr).toContain('no release location');
    expect(watched()).toEqual(before);
  });

  it('refuses to go on without a release key, since nothing could be verified', () => {
    const before = watched();
    const run = runInstaller(sandbox, ['--from', releaseDir, '--prefix', prefix], { env: { CARAPACE_HOME: carapaceHome } });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('no release key: this install.sh was not published with one');
    const notAKey = join(sandbox.root, 'not-a-key.pem');
    writeFileSync(notAKey, 'hello\n');
    chownTree(notAKey, sandbox.user);
    const bad = runInstaller(sandbox, ['--from', releaseDir, '--release-key', notAKey, '--prefix', prefix], { env: { CARAPACE_HOME: carapaceHome } });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`the release key from ${notAKey} is not a PEM public key`);
    const missing = install(['--from', join(sandbox.root, 'nowhere')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('is neither an http(s) URL nor a directory');
    expect(watched()).toEqual(before);
  });

  it('refuses a prefix that would need root, pointing at --prefix, and never asks for sudo', () => {
    const rootOwned = join(sandbox.root, 'system-prefix');
    mkdirSync(rootOwned);
    // As root, the directory stays root's; as ourselves, a read-only directory stands in.
    chmodSync(rootOwned, sandbox.user.name === undefined ? 0o555 : 0o755);
    const before = snapshotTree(rootOwned, carapaceHome);
    const run = runInstaller(sandbox, ['--from', releaseDir, '--release-key', key.publicKeyFile, '--prefix', rootOwned], {
      env: { CARAPACE_HOME: carapaceHome },
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`cannot write to ${rootOwned}: installing under ${rootOwned} would need root`);
    expect(run.stderr).toContain('install.sh never uses sudo');
    expect(run.stderr).toContain('--prefix DIR');
    expect(snapshotTree(rootOwned, carapaceHome)).toEqual(before);
    expect(privilegeCalls(sandbox)).toBe('');
  });

  it('refuses a Node.js that is too old', () => {
    const fakeDir = join(sandbox.root, 'old-node');
    mkdirSync(fakeDir);
    writeFileSync(join(fakeDir, 'node'), '#!/bin/sh\necho 20.16.0\n');
    chmodSync(join(fakeDir, 'node'), 0o755);
    chownTree(fakeDir, sandbox.user);
    const before = watched();
    const run = install([], { pathPrefix: [fakeDir] });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('Node.js 20.16.0');
    expect(run.stderr).toContain('is too old');
    expect(watched()).toEqual(before);
  });

  it("refuses to replace a bin/carapace that is not Carapace's link", () => {
    mkdirSync(join(prefix, 'bin'), { recursive: true });
    writeFileSync(join(prefix, 'bin', 'carapace'), '#!/bin/sh\necho someone else\n');
    chownTree(prefix, sandbox.user);
    const before = watched();
    const run = install([]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`${join(prefix, 'bin', 'carapace')} exists and is not Carapace's link`);
    expect(watched()).toEqual(before);
    rmSync(join(prefix, 'bin'), { recursive: true });
  });

  it('refuses a Carapace home that is a symlink', () => {
    const elsewhere = join(sandbox.root, 'elsewhere');
    mkdirSync(elsewhere);
    const linked = join(sandbox.root, 'linked-home');
    spawnSync('ln', ['-s', elsewhere, linked]);
    chownTree(sandbox.root, sandbox.user);
    const before = watched();
    const run = install([], { env: { CARAPACE_HOME: linked } });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`${linked} is a symlink`);
    expect(watched()).toEqual(before);
  });
});
