import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, requireTool } from './installer-harness.js';

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

  it('offers a dev shell and a formatter on Linux and macOS; containers tools only on Linux', () => {
    const expression = `
      let
        flake = import ${FLAKE_NIX};
        outputs = flake.outputs { self = outputs; nixpkgs = import ${NIXPKGS_STUB}; };
      in {
        outputs = builtins.attrNames outputs;
        devShells = builtins.mapAttrs (system: shells: shells.default.packages) outputs.devShells;
        formatter = outputs.formatter;
      }`;
    const evaluated = nix('nix-instantiate', ['--eval', '--strict', '--json', '--expr', expression]);
    expect(evaluated.stderr).toBe('');
    expect(evaluated.status).toBe(0);
    const common = ['nodejs_20', 'pnpm_10 on nodejs_20', 'shellcheck', 'dash'];
    const linux = [...common, 'podman', 'runc', 'pkgsStatic.busybox'];
    expect(JSON.parse(evaluated.stdout)).toEqual({
      outputs: ['devShells', 'formatter'],
      devShells: { 'x86_64-linux': linux, 'aarch64-linux': linux, 'x86_64-darwin': common, 'aarch64-darwin': common },
      formatter: {
        'x86_64-linux': 'nixfmt-rfc-style',
        'aarch64-linux': 'nixfmt-rfc-style',
        'x86_64-darwin': 'nixfmt-rfc-style',
        'aarch64-darwin': 'nixfmt-rfc-style',
      },
    });
  });
});
