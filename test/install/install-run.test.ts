import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
  type Sandbox,
  seedPnpmStore,
  snapshotTree,
  stagingDirs,
  startInstaller,
} from './installer-harness.js';

// Real installs, as a non-root user, from a copy of this built checkout into a temp HOME. The
// user's pnpm store holds the locked packages, as it does after `pnpm install` in a checkout.
// Each install takes a few seconds; allow for a loaded 2-core CI machine.
describe('install.sh installing for real', { timeout: 120_000 }, () => {
  let sandbox: Sandbox;
  let libDir: string;
  let installDir: string;
  let carapaceHome: string;

  beforeAll(() => {
    requireTool('dash', 'dash');
    sandbox = createSandbox(installUser());
    seedPnpmStore(sandbox);
    libDir = join(sandbox.home, '.local', 'lib');
    installDir = join(libDir, 'carapace');
    carapaceHome = join(sandbox.home, '.carapace');
  }, 120_000);

  afterAll(() => rmSync(sandbox.root, { recursive: true, force: true }));

  const carapaceVersion = (): string => {
    const run = runInstaller(sandbox, [], { argv: [join(sandbox.home, '.local', 'bin', 'carapace'), '--version'] });
    expect(run.stderr).toBe('');
    return run.stdout;
  };

  it('installs with the defaults under dash without root, and the carapace command runs', () => {
    const started = Date.now();
    const run = runInstaller(sandbox, [], { shell: 'dash', cwd: sandbox.source });
    const seconds = (Date.now() - started) / 1000;
    expect(run.stderr).not.toContain('install.sh:');
    expect(run.status).toBe(0);
    console.info(`install.sh (copy + pnpm install --prod + checks) took ${seconds.toFixed(1)} s`);

    expect(run.stdout).toContain(`installed Carapace ${PACKAGE_VERSION} in ${installDir}`);
    expect(run.stdout.trim().split('\n').at(-1)).toBe('==> next: carapace doctor');
    const link = join(sandbox.home, '.local', 'bin', 'carapace');
    expect(readlinkSync(link)).toBe(join(installDir, 'bin', 'carapace'));
    expect(carapaceVersion()).toBe(`${PACKAGE_VERSION}\n`);

    for (const dir of [carapaceHome, join(carapaceHome, 'credentials')]) {
      const stats = lstatSync(dir);
      expect(stats.isDirectory()).toBe(true);
      expect(stats.mode & 0o777).toBe(0o700);
      expect(stats.uid).toBe(sandbox.user.uid);
    }
    // Everything belongs to the user who ran it, and nothing asked for more.
    expect(statSync(join(installDir, 'dist', 'cli', 'main.js')).uid).toBe(sandbox.user.uid);
    expect(sandbox.user.uid).not.toBe(0);
    expect(privilegeCalls(sandbox)).toBe('');
    expect(stagingDirs(libDir)).toEqual([]);
    expect(existsSync(`${installDir}.previous`)).toBe(false);
  });

  it('installs again under bash, keeping the first installation as carapace.previous and honouring CARAPACE_HOME', () => {
    const firstInode = statSync(join(installDir, 'package.json')).ino;
    const otherHome = join(sandbox.root, 'other-carapace-home');
    const run = runInstaller(sandbox, [], { shell: 'bash', env: { CARAPACE_HOME: otherHome } });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`the previous installation is kept in ${installDir}.previous`);
    expect(run.stdout).toContain(`keep CARAPACE_HOME=${otherHome} set when you run carapace`);
    for (const dir of [otherHome, join(otherHome, 'credentials')]) expect(lstatSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(`${installDir}.previous`, 'package.json')).ino).toBe(firstInode);
    expect(statSync(join(installDir, 'package.json')).ino).not.toBe(firstInode);
    expect(carapaceVersion()).toBe(`${PACKAGE_VERSION}\n`);
    expect(privilegeCalls(sandbox)).toBe('');
    expect(stagingDirs(libDir)).toEqual([]);
  });

  it('leaves the installation as it was, and no staging directory, when pnpm install fails', () => {
    // A lockfile that does not match package.json: pnpm refuses it inside the staging directory,
    // after the tree was copied there.
    const broken = join(sandbox.root, 'lock-mismatch');
    spawnSync('cp', ['-a', sandbox.source, broken]);
    const manifest = JSON.parse(readFileSync(join(broken, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    manifest.dependencies['left-pad'] = '1.3.0';
    writeFileSync(join(broken, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    chownTree(broken, sandbox.user);

    const before = snapshotTree(join(sandbox.home, '.local'), carapaceHome);
    const run = runInstaller(sandbox, ['--source', broken]);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('ERR_PNPM_OUTDATED_LOCKFILE');
    expect(run.stderr).toContain('pnpm install failed in the staging directory; nothing was installed');
    expect(stagingDirs(libDir)).toEqual([]);
    expect(snapshotTree(join(sandbox.home, '.local'), carapaceHome)).toEqual(before);
    expect(carapaceVersion()).toBe(`${PACKAGE_VERSION}\n`);
  });

  it('removes the staging directory and keeps the installation when stopped with SIGTERM mid-install', async () => {
    const before = snapshotTree(join(sandbox.home, '.local'), carapaceHome);
    const child = startInstaller(sandbox, []);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => void (stderr += chunk.toString('utf8')));
    child.stdout?.resume();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

    // Wait until pnpm is populating the staging directory, then stop the whole process group.
    const deadline = Date.now() + 60_000;
    while (!stagingDirs(libDir).some((dir) => existsSync(join(libDir, dir, 'node_modules')))) {
      if (Date.now() > deadline) throw new Error(`pnpm never started in a staging directory; stderr: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    process.kill(-child.pid!, 'SIGTERM');
    expect(await exited).not.toBe(0);

    expect(stagingDirs(libDir)).toEqual([]);
    expect(snapshotTree(join(sandbox.home, '.local'), carapaceHome)).toEqual(before);
    expect(carapaceVersion()).toBe(`${PACKAGE_VERSION}\n`);
    expect(privilegeCalls(sandbox)).toBe('');
  });
});
