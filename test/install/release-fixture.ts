import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signArtifact } from '../../src/trust/artifact-signature.js';
import { publicKeyFingerprint } from '../../src/trust/key-fingerprint.js';
import { parseSigningKey, type SigningKey } from '../../src/trust/signing-key.js';
import { REPO_ROOT } from './installer-harness.js';

export const RELEASE_SH = join(REPO_ROOT, 'scripts', 'release.sh');

export interface ReleaseKey extends SigningKey {
  /** The private key, mode 0600, as release.sh takes it. */
  readonly privateKeyFile: string;
  /** The public key, mode 0644, as install.sh --release-key takes it. */
  readonly publicKeyFile: string;
}

/** A fresh ECDSA P-256 release key written to `dir/NAME.pem` and `dir/NAME.pub`. */
export function createReleaseKey(dir: string, name: string): ReleaseKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = parseSigningKey(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), name);
  const privateKeyFile = join(dir, `${name}.pem`);
  const publicKeyFile = join(dir, `${name}.pub`);
  writeFileSync(privateKeyFile, key.privateKeyPem, { mode: 0o600 });
  writeFileSync(publicKeyFile, key.publicKeyPem, { mode: 0o644 });
  if (publicKeyFingerprint(key.publicKeyPem) !== key.keyId) throw new Error('key id is not the fingerprint');
  return { ...key, privateKeyFile, publicKeyFile };
}

export interface ScriptRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

/** Runs `bash scripts/release.sh ARGS` without blocking the event loop. */
export async function runReleaseScript(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<ScriptRun> {
  const started = Date.now();
  const child = spawn('bash', [RELEASE_SH, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => void (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString('utf8')));
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { status, stdout, stderr, seconds: (Date.now() - started) / 1000 };
}

export interface BuildReleaseOptions {
  readonly key: ReleaseKey;
  readonly out: string;
  readonly url?: string;
  /** An already built tree to pack (release.sh --tree). */
  readonly tree?: string;
  readonly env?: Readonly<Record<string, string>>;
}

/** Builds (or packs) a release with scripts/release.sh; throws with its stderr if it fails. */
export async function buildRelease(options: BuildReleaseOptions): Promise<ScriptRun> {
  const args = ['--key', options.key.privateKeyFile, '--out', options.out];
  if (options.url !== undefined) args.push('--url', options.url);
  if (options.tree !== undefined) args.push('--tree', options.tree);
  const run = await runReleaseScript(args, options.env);
  if (run.status !== 0) throw new Error(`release.sh failed (${String(run.status)}): ${run.stderr}`);
  return run;
}

/** The one tarball in a release directory. */
export function tarballOf(releaseDir: string): string {
  const tarballs = readdirSync(releaseDir).filter((name) => name.endsWith('.tar.gz'));
  if (tarballs.length !== 1) throw new Error(`expected one tarball in ${releaseDir}, found ${tarballs.join(', ')}`);
  return tarballs[0]!;
}

async function run(command: string, args: readonly string[]): Promise<void> {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString('utf8')));
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${stderr}`);
}

/** Extracts a release's tarball into a fresh temp directory and returns its top-level tree. */
export async function extractRelease(releaseDir: string): Promise<string> {
  const into = mkdtempSync(join(tmpdir(), 'carapace-release-tree-'));
  await run('tar', ['-xzf', join(releaseDir, tarballOf(releaseDir)), '-C', into]);
  const [top] = readdirSync(into);
  return join(into, top!);
}

/**
 * Another release made from `base`'s tree: `change` edits the extracted tree (a new version, a
 * broken command), then release.sh packs and signs it with `key` into `out`.
 */
export async function deriveRelease(base: string, key: ReleaseKey, out: string, change: (tree: string) => void, url?: string): Promise<void> {
  const tree = await extractRelease(base);
  try {
    change(tree);
    await buildRelease({ key, out, tree, ...(url === undefined ? {} : { url }) });
  } finally {
    rmSync(join(tree, '..'), { recursive: true, force: true });
  }
}

/** Sets the version in a tree's package.json (which the CLI reports as its own). */
export function setTreeVersion(tree: string, version: string): void {
  const file = join(tree, 'package.json');
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, `${JSON.stringify({ ...manifest, version }, null, 2)}\n`);
}

/** Writes FILE.sigstore.json for `file`, signed with `key` (to re-sign or forge release files). */
export async function signReleaseFile(file: string, key: SigningKey): Promise<void> {
  const bundle = await signArtifact(readFileSync(file), key);
  writeFileSync(`${file}.sigstore.json`, `${JSON.stringify(bundle, null, 2)}\n`);
}

/** A copy of a release directory to tamper with (a real copy: editing it never reaches the original). */
export async function copyRelease(from: string, to: string): Promise<void> {
  mkdirSync(to, { recursive: true });
  await run('cp', ['-a', `${from}/.`, to]);
}
