import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
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

// The installer's refusals and its shape; none of these runs pnpm. Real installs are in
// install-run.test.ts.
describe('install.sh before it installs anything', { timeout: 60_000 }, () => {
  let sandbox: Sandbox;
  let prefix: string;
  let carapaceHome: string;
  let watched: () => Record<string, string>;

  beforeAll(() => {
    requireTool('dash', 'dash');
    requireTool('bash', 'bash');
    sandbox = createSandbox(installUser());
    prefix = join(sandbox.root, 'prefix');
    carapaceHome = join(sandbox.root, 'carapace-home');
    // An earlier installation the installer must leave alone when it refuses.
    mkdirSync(join(prefix, 'lib', 'carapace'), { recursive: true });
    writeFileSync(join(prefix, 'lib', 'carapace', 'package.json'), '{"version":"0.0.1"}\n');
    chownTree(prefix, sandbox.user);
    watched = () => snapshotTree(prefix, carapaceHome, sandbox.home);
  }, 60_000);

  afterAll(() => rmSync(sandbox.root, { recursive: true, force: true }));

  const install = (args: readonly string[], options: Parameters<typeof runInstaller>[2] = {}) =>
    runInstaller(sandbox, ['--source', sandbox.source, '--prefix', prefix, ...args], {
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
    expect(run.stdout).toMatch(/^usage: install\.sh \[--prefix DIR\] \[--source DIR\]/);
    for (const documented of ['--prefix DIR', '--source DIR', 'CARAPACE_HOME', 'Never uses sudo']) expect(run.stdout).toContain(documented);
    expect(run.stderr).toBe('');
    expect(watched()).toEqual(before);
  });

  it.each([
    [['--bogus'], 'unknown argument: --bogus'],
    [['--prefix'], '--prefix needs a directory'],
    [['--prefix='], 'unknown argument: --prefix='],
    [['--source', ''], '--source needs a directory'],
    [['extra'], 'unknown argument: extra'],
  ])('refuses %j with exit 2, a clear message, and no change', (args, message) => {
    const before = watched();
    const run = install(args);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`install.sh: ${message}\n`);
    expect(run.stdout).toBe('');
    expect(watched()).toEqual(before);
  });

  it('does nothing when cut off anywhere, under dash and bash', () => {
    const script = readFileSync(INSTALL_SH);
    // Every cut that drops the final `}`: half the file, each line boundary, and each of the
    // last bytes before the brace (where `main "$@"` would become `main`).
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
    const loop = 'for f in "$@"; do for sh in dash bash; do "$sh" "$f" --source "$SRC" --prefix "$PREFIX" >/dev/null 2>&1; echo "$sh $f $?"; done; done';
    const run = runInstaller(sandbox, [], {
      argv: ['sh', '-c', loop, 'sh', ...files],
      env: { SRC: sandbox.source, PREFIX: prefix, CARAPACE_HOME: carapaceHome },
    });
    expect(run.status).toBe(0);
    const results = run.stdout.trim().split('\n');
    expect(results).toHaveLength(files.length * 2);
    // Only cuts inside the leading comment (no command at all) may exit 0; every other cut is a
    // syntax error before anything runs.
    const succeeded = results.filter((line) => line.endsWith(' 0')).map((line) => Number(/install-(\d+)\.sh/.exec(line)?.[1]));
    expect(succeeded.filter((length) => length > opening)).toEqual([]);
    expect(watched()).toEqual(before);
    expect(privilegeCalls(sandbox)).toBe('');
  });

  it.each(['dash', 'bash'] as const)('read from a pipe by %s, recommends the two-step path and needs --source', (shell) => {
    const before = watched();
    const run = install([], { argv: [shell, '-s', '--', '--prefix', prefix], stdin: readFileSync(INSTALL_SH, 'utf8') });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('running from a pipe. The recommended path is two steps');
    expect(run.stderr).toContain('pass --source DIR');
    expect(watched()).toEqual(before);
  });

  it('refuses a prefix that would need root, pointing at --prefix, and never asks for sudo', () => {
    const rootOwned = join(sandbox.root, 'system-prefix');
    mkdirSync(rootOwned);
    // As root, the directory stays root's; as ourselves, a read-only directory stands in.
    chmodSync(rootOwned, sandbox.user.name === undefined ? 0o555 : 0o755);
    const before = snapshotTree(rootOwned, carapaceHome);
    const run = runInstaller(sandbox, ['--source', sandbox.source, '--prefix', rootOwned], { env: { CARAPACE_HOME: carapaceHome } });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`cannot write to ${rootOwned}: installing under ${rootOwned} would need root`);
    expect(run.stderr).toContain('install.sh never uses sudo');
    expect(run.stderr).toContain('--prefix DIR');
    expect(snapshotTree(rootOwned, carapaceHome)).toEqual(before);
    expect(privilegeCalls(sandbox)).toBe('');
  });

  it('refuses an unbuilt or stale checkout, saying how to build it', () => {
    const stale = join(sandbox.root, 'stale-source');
    const unbuilt = join(sandbox.root, 'unbuilt-source');
    spawnSync('cp', ['-a', sandbox.source, stale]);
    spawnSync('cp', ['-a', sandbox.source, unbuilt]);
    const later = Date.now() / 1000 + 60;
    utimesSync(join(stale, 'src', 'cli', 'main.ts'), later, later);
    rmSync(join(unbuilt, 'dist'), { recursive: true });
    chownTree(stale, sandbox.user);
    chownTree(unbuilt, sandbox.user);

    const before = watched();
    const staleRun = runInstaller(sandbox, ['--source', stale, '--prefix', prefix], { env: { CARAPACE_HOME: carapaceHome } });
    expect(staleRun.status).toBe(1);
    expect(staleRun.stderr).toContain('dist/ is older than src/cli/main.ts');
    expect(staleRun.stderr).toContain("run 'pnpm install --frozen-lockfile && pnpm build'");
    const unbuiltRun = runInstaller(sandbox, ['--source', unbuilt, '--prefix', prefix], { env: { CARAPACE_HOME: carapaceHome } });
    expect(unbuiltRun.status).toBe(1);
    expect(unbuiltRun.stderr).toContain('is not built (dist/cli/main.js is missing)');
    expect(watched()).toEqual(before);
  });

  it.each([
    ['node', '20.16.0', 'Node.js 20.16.0'],
    ['pnpm', '9.15.0', 'pnpm 9.15.0 is too old'],
  ])('refuses a %s that is too old (%s)', (tool, version, message) => {
    const fakeDir = join(sandbox.root, `old-${tool}`);
    mkdirSync(fakeDir);
    writeFileSync(join(fakeDir, tool), `#!/bin/sh\necho ${version}\n`);
    chmodSync(join(fakeDir, tool), 0o755);
    chownTree(fakeDir, sandbox.user);
    const before = watched();
    const run = install([], { pathPrefix: [fakeDir] });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(message);
    expect(run.stderr).toMatch(/too old/);
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
});
