import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODE_PLUGIN_IMAGE } from '../../src/images/node-plugin-image.js';
import { PACKAGE_VERSION, REPO_ROOT, requireTool } from './installer-harness.js';

// What can be checked about the flake without a network: nixpkgs itself cannot be fetched here,
// so nothing below builds or enters the dev shell (docs/install.md lists what was checked how).
const FLAKE_NIX = join(REPO_ROOT, 'flake.nix');
const FLAKE_LOCK = join(REPO_ROOT, 'flake.lock');
const NIXPKGS_STUB = join(REPO_ROOT, 'test', 'install', 'fixtures', 'nixpkgs-stub.nix');
const NIX_FLAGS = ['--extra-experimental-features', 'nix-command', '--extra-experimental-features', 'flakes'];

interface LockNode {
  inputs?: Record<string, string>;
  locked?: Record<string, string | number>;
  original?: Record<string, string>;
}

function nix(command: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const binary = requireTool(command, 'nix-bin');
  const result = spawnSync(binary, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('flake.nix and flake.lock', { timeout: 60_000 }, () => {
  it('flake.nix parses', () => {
    const parsed = nix('nix-instantiate', ['--parse', FLAKE_NIX]);
    expect(parsed.stderr).toBe('');
    expect(parsed.status).toBe(0);
  });

  it('flake.lock pins nixpkgs to one revision with its NAR hash', () => {
    const lock = JSON.parse(readFileSync(FLAKE_LOCK, 'utf8')) as { version: number; root: string; nodes: Record<string, LockNode> };
    expect(lock.version).toBe(7);
    expect(lock.nodes[lock.root]?.inputs).toEqual({ nixpkgs: 'nixpkgs' });
    const nixpkgs = lock.nodes['nixpkgs'];
    expect(nixpkgs?.original).toEqual({ type: 'github', owner: 'nixos', repo: 'nixpkgs', ref: 'nixos-25.05' });
    expect(nixpkgs?.locked).toMatchObject({ type: 'github', owner: 'nixos', repo: 'nixpkgs' });
    expect(nixpkgs?.locked?.['rev']).toMatch(/^[0-9a-f]{40}$/);
    expect(Number.isInteger(nixpkgs?.locked?.['lastModified'])).toBe(true);
    const narHash = String(nixpkgs?.locked?.['narHash']);
    expect(narHash).toMatch(/^sha256-[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(narHash.slice('sha256-'.length), 'base64')).toHaveLength(32);
  });

  it('nix accepts flake.lock as the lock of flake.nix without fetching or rewriting anything', () => {
    // A copy, so that nix copies two files into its store rather than the whole checkout.
    const dir = mkdtempSync(join(tmpdir(), 'carapace-flake-'));
    try {
      copyFileSync(FLAKE_NIX, join(dir, 'flake.nix'));
      copyFileSync(FLAKE_LOCK, join(dir, 'flake.lock'));
      const metadata = nix('nix', [...NIX_FLAGS, 'flake', 'metadata', '--offline', '--no-update-lock-file', '--json', `path:${dir}`]);
      expect(metadata.stderr).toBe('');
      expect(metadata.status).toBe(0);
      const locks = (JSON.parse(metadata.stdout) as { locks: unknown }).locks;
      expect(locks).toEqual(JSON.parse(readFileSync(FLAKE_LOCK, 'utf8')));
      expect(readFileSync(join(dir, 'flake.lock'), 'utf8')).toBe(readFileSync(FLAKE_LOCK, 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** Evaluates `body` with `flake` (the outputs against the nixpkgs stand-in) in scope, as JSON. */
  function evaluate(body: string): { status: number | null; stdout: string; stderr: string } {
    const expression = `
      let
        flake = import ${FLAKE_NIX};
        outputs = flake.outputs { self = outputs; nixpkgs = import ${NIXPKGS_STUB}; };
        stub = import ${NIXPKGS_STUB};
      in ${body}`;
    return nix('nix-instantiate', ['--eval', '--strict', '--json', '--expr', expression]);
  }

  const systems = ['x86_64-linux', 'aarch64-linux', 'x86_64-darwin', 'aarch64-darwin'];
  const linuxSystems = ['x86_64-linux', 'aarch64-linux'];

  it('offers a dev shell and a formatter on Linux and macOS; containers tools only on Linux', () => {
    const evaluated = evaluate(`{
      outputs = builtins.attrNames outputs;
      devShells = builtins.mapAttrs (system: shells: map (p: if builtins.isAttrs p then p.name else p) shells.default.packages) outputs.devShells;
      formatter = outputs.formatter;
    }`);
    expect(evaluated.stderr).toBe('');
    expect(evaluated.status).toBe(0);
    const common = ['nodejs_20', 'pnpm_10 on nodejs_20', 'shellcheck', 'dash'];
    const linux = [...common, 'podman', 'runc', 'pkgsStatic.busybox'];
    expect(JSON.parse(evaluated.stdout)).toEqual({
      outputs: ['apps', 'devShells', 'formatter', 'lib', 'packages'],
      devShells: { 'x86_64-linux': linux, 'aarch64-linux': linux, 'x86_64-darwin': common, 'aarch64-darwin': common },
      formatter: Object.fromEntries(systems.map((system) => [system, 'nixfmt-rfc-style'])),
    });
  });

  it('has packages.default and apps.default on every system, and they refuse to evaluate until the pnpm hash is computed', () => {
    const evaluated = evaluate(`{
      packages = builtins.mapAttrs (system: packages: builtins.attrNames packages) outputs.packages;
      defaultEvaluates = builtins.mapAttrs (system: packages: (builtins.tryEval packages.default).success) outputs.packages;
      apps = builtins.mapAttrs (system: apps: { type = apps.default.type; programEvaluates = (builtins.tryEval apps.default.program).success; }) outputs.apps;
    }`);
    expect(evaluated.stderr).toBe('');
    expect(evaluated.status).toBe(0);
    expect(JSON.parse(evaluated.stdout)).toEqual({
      packages: Object.fromEntries(systems.map((system) => [system, linuxSystems.includes(system) ? ['default', 'runtime-image'] : ['default']])),
      defaultEvaluates: Object.fromEntries(systems.map((system) => [system, false])),
      apps: Object.fromEntries(systems.map((system) => [system, { type: 'app', programEvaluates: false }])),
    });
    // What a user sees instead of a build that fails halfway on a made-up hash.
    const forced = evaluate('outputs.packages.x86_64-linux.default.pname');
    expect(forced.status).not.toBe(0);
    expect(forced.stderr).toContain('packages.default needs the hash of its pnpm dependencies (pnpmDepsHash in flake.nix)');
  });

  it('builds the CLI from pnpm-lock.yaml with pnpm_10.fetchDeps, better-sqlite3 rebuilt, and a carapace wrapper on Node 20', () => {
    const evaluated = evaluate(`
      let drv = outputs.lib.carapace stub.legacyPackages.x86_64-linux "sha256-computed-by-nix"; in {
        inherit (drv) pname version src nativeBuildInputs env buildPhase installPhase;
        meta = { inherit (drv.meta) mainProgram license; };
        pnpmDeps = { inherit (drv.pnpmDeps) builder pname version hash prePnpmInstall src; };
      }`);
    expect(evaluated.stderr).toBe('');
    expect(evaluated.status).toBe(0);
    const drv = JSON.parse(evaluated.stdout) as Record<string, unknown> & { buildPhase: string; installPhase: string; pnpmDeps: Record<string, unknown> };
    const sources = ['package.json', 'pnpm-lock.yaml', 'tsconfig.json', 'tsconfig.build.json', 'src', 'plugins', 'images'];
    expect(drv).toMatchObject({
      pname: 'carapace',
      version: PACKAGE_VERSION,
      src: { fileset: sources },
      nativeBuildInputs: ['nodejs_20', 'pnpm_10 on nodejs_20.configHook', 'makeWrapper', 'python3'],
      env: { npm_config_nodedir: 'nodejs_20' },
      meta: { mainProgram: 'carapace', license: 'asl20' },
      pnpmDeps: {
        builder: 'pnpm_10 on nodejs_20.fetchDeps',
        pname: 'carapace',
        version: PACKAGE_VERSION,
        hash: 'sha256-computed-by-nix',
        prePnpmInstall: 'pnpm config set manage-package-manager-versions false\n',
        src: { fileset: sources },
      },
    });
    const steps = (script: string): string[] => script.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
    expect(steps(drv.buildPhase)).toEqual(['runHook preBuild', 'pnpm rebuild better-sqlite3', 'pnpm run build', 'pnpm prune --prod', 'runHook postBuild']);
    expect(steps(drv.installPhase)).toEqual([
      'runHook preInstall',
      'mkdir -p $out/lib/carapace $out/bin',
      'cp -r package.json pnpm-lock.yaml dist plugins images node_modules $out/lib/carapace/',
      'makeWrapper nodejs_20/bin/node $out/bin/carapace --add-flags $out/lib/carapace/dist/cli/main.js',
      'runHook postInstall',
    ]);
    // What the wrapper runs and what the tree holds are what install.sh installs from a release.
    const packaged = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { files: string[] }).files;
    for (const entry of packaged) expect(drv.installPhase).toContain(` ${entry} `);
  });

  it('builds a base runtime image with dockerTools in the layout of the Node plugin images, on Linux only', () => {
    const evaluated = evaluate('outputs.packages.x86_64-linux.runtime-image');
    expect(evaluated.stderr).toBe('');
    expect(evaluated.status).toBe(0);
    const image = JSON.parse(evaluated.stdout) as { extraCommands: string } & Record<string, unknown>;
    expect(image).toMatchObject({
      builder: 'dockerTools.buildLayeredImage',
      name: 'localhost/carapace/node-runtime',
      tag: PACKAGE_VERSION,
      contents: ['nodejs-slim_20'],
      config: {
        Entrypoint: [NODE_PLUGIN_IMAGE.node],
        WorkingDir: NODE_PLUGIN_IMAGE.appDir,
        Env: ['PATH=/usr/local/bin'],
        Labels: { 'org.opencontainers.image.title': 'carapace-node-runtime' },
      },
    });
    // The mount points the hardened spec mounts over must exist in a read-only root.
    for (const dir of ['app', 'data', 'run/carapace', 'tmp', 'proc', 'sys', 'dev']) expect(image.extraCommands).toMatch(new RegExp(`mkdir -p .*\\b${dir}\\b`));
    expect(image.extraCommands).toContain('ln -s /bin/node usr/local/bin/node');
  });
});
