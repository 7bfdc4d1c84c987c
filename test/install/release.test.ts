import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { list, type ReadEntry } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyArtifactSignature } from '../../src/trust/artifact-signature.js';
import { EMPTY_REVOCATION_LIST } from '../../src/trust/revocation-list.js';
import { EMPTY_TRUST_POLICY } from '../../src/trust/trust-policy.js';
import { INSTALL_SH, PACKAGE_VERSION, requireTool } from './installer-harness.js';
import { buildRelease, createReleaseKey, extractRelease, runReleaseScript, type ReleaseKey } from './release-fixture.js';

// scripts/release.sh for real: compiles the checkout, installs the production dependencies,
// packs, checksums and signs. Its installs are tested in install-release.test.ts.
describe('scripts/release.sh', { timeout: 300_000 }, () => {
  let root: string;
  let key: ReleaseKey;
  let out: string;
  const epoch = '1767225600'; // 2026-01-01T00:00:00Z
  const platform = `${process.platform}-${process.arch}-node${process.versions.node.split('.')[0]}`;
  const tarball = `carapace-${PACKAGE_VERSION}-${platform}.tar.gz`;
  const url = 'https://releases.example.test/carapace/latest';

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'carapace-release-test-'));
    key = createReleaseKey(root, 'release');
    out = join(root, 'out');
    const run = await buildRelease({ key, out, url, env: { SOURCE_DATE_EPOCH: epoch } });
    console.info(`release.sh (tsc + pnpm install --prod + tar + sign) took ${run.seconds.toFixed(1)} s`);
  }, 300_000);

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

  it('writes the tarball, install.sh, release.json, the public key and SHA256SUMS, each with a bundle that verifies', () => {
    const files = ['SHA256SUMS', 'install.sh', 'release-key.pem', 'release.json', tarball];
    expect(readdirSync(out).sort()).toEqual([...files, ...files.map((file) => `${file}.sigstore.json`)].sort());
    const policy = { ...EMPTY_TRUST_POLICY, keys: [{ id: 'release', publicKeyPem: key.publicKeyPem }] };
    for (const file of files) {
      const verified = verifyArtifactSignature({
        artifact: readFileSync(join(out, file)),
        bundle: JSON.parse(readFileSync(join(out, `${file}.sigstore.json`), 'utf8')),
        policy,
        revocations: EMPTY_REVOCATION_LIST,
      });
      expect(verified.signer.fingerprint).toBe(key.keyId);
    }
    expect(readFileSync(join(out, 'release-key.pem'), 'utf8')).toBe(key.publicKeyPem);
    const sums = readFileSync(join(out, 'SHA256SUMS'), 'utf8');
    expect(sums).toBe(['install.sh', 'release-key.pem', 'release.json', tarball].sort().map((file) => `${sha256(join(out, file))}  ${file}\n`).join(''));
  });

  it('describes the release in release.json: version, key, and the tarball with its digest and platform', () => {
    const manifest = JSON.parse(readFileSync(join(out, 'release.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      schema: 1,
      name: 'carapace',
      version: PACKAGE_VERSION,
      created: '2026-01-01T00:00:00.000Z',
      releaseKey: key.keyId,
      artifacts: [
        {
          name: tarball,
          os: process.platform,
          arch: process.arch,
          node: Number(process.versions.node.split('.')[0]),
          nodeModules: Number(process.versions.modules),
          sha256: sha256(join(out, tarball)),
          size: readFileSync(join(out, tarball)).length,
          bundle: `${tarball}.sigstore.json`,
        },
      ],
    });
    expect((manifest['source'] as { commit: string }).commit).toMatch(/^[0-9a-f]{40}$/);
  });

  it('stamps the release URL and public key into install.sh and changes nothing else in it', () => {
    const published = readFileSync(join(out, 'install.sh'), 'utf8');
    const original = readFileSync(INSTALL_SH, 'utf8');
    expect(published).toBe(
      original.replace("RELEASE_URL=''\n", `RELEASE_URL='${url}'\n`).replace("RELEASE_KEY=''\n", `RELEASE_KEY='${key.publicKeyPem.trimEnd()}'\n`),
    );
    const shellcheck = spawnSync(requireTool('shellcheck', 'shellcheck'), ['-s', 'sh', join(out, 'install.sh')], { encoding: 'utf8' });
    expect(shellcheck.stdout + shellcheck.stderr).toBe('');
  });

  it('packs one top-level directory, owner 0, fixed mtime, without build leftovers, pnpm bookkeeping or source maps', async () => {
    const entries: { path: string; uid: number | undefined; gid: number | undefined; mtime: number | undefined; type: string; mode: number | undefined }[] = [];
    await list({
      file: join(out, tarball),
      onReadEntry: (entry: ReadEntry) => void entries.push({ path: entry.path, uid: entry.uid, gid: entry.gid, mtime: entry.mtime?.getTime(), type: entry.type, mode: entry.mode }),
    });
    const top = `carapace-${PACKAGE_VERSION}/`;
    expect(entries.every((entry) => entry.path.startsWith(top))).toBe(true);
    expect(new Set(entries.map((entry) => `${entry.uid}:${entry.gid}`))).toEqual(new Set(['0:0']));
    expect(new Set(entries.map((entry) => entry.mtime))).toEqual(new Set([Number(epoch) * 1000]));
    expect(new Set(entries.map((entry) => entry.type))).toEqual(new Set(['File', 'Directory', 'SymbolicLink']));
    expect(entries.filter((entry) => entry.type === 'File').every((entry) => entry.mode === 0o644 || entry.mode === 0o755)).toBe(true);
    const paths = entries.map((entry) => entry.path.slice(top.length));
    for (const expected of ['package.json', 'pnpm-lock.yaml', 'release-key.pem', 'dist/cli/main.js', 'plugins/echo/manifest.json', 'images/canary/probe.sh', 'node_modules/better-sqlite3']) {
      expect(paths).toContain(expected);
    }
    expect(paths.filter((path) => /(^|\/)\.bin\/|\.modules\.yaml$|workspace-state|^dist\/.*\.map$|^src\//.test(path))).toEqual([]);
    const sqliteBuild = paths.filter((path) => /better-sqlite3\/build\/./.test(path) && !path.endsWith('/'));
    expect(sqliteBuild.map((path) => path.replace(/.*better-sqlite3\/build\//, ''))).toEqual(['Release/better_sqlite3.node']);
    const zeromqPlatforms = new Set(paths.flatMap((path) => /zeromq\/build\/([^/]+)\//.exec(path)?.[1] ?? []));
    expect(zeromqPlatforms).toEqual(new Set([process.platform]));
  });

  it('packs the same tree into the same bytes: repacking the extracted tarball reproduces it exactly', async () => {
    const tree = await extractRelease(out);
    const again = join(root, 'again');
    try {
      await buildRelease({ key, out: again, url, tree, env: { SOURCE_DATE_EPOCH: epoch } });
    } finally {
      rmSync(join(tree, '..'), { recursive: true, force: true });
    }
    expect(sha256(join(again, tarball))).toBe(sha256(join(out, tarball)));
  });

  it('refuses a key others can read, a public key, a non-empty output directory and unknown arguments, writing nothing', async () => {
    const loose = join(root, 'loose.pem');
    writeFileSync(loose, key.privateKeyPem);
    chmodSync(loose, 0o644);
    const target = join(root, 'refused');
    const refusals: [readonly string[], number, string][] = [
      [['--key', loose, '--out', target], 1, 'can be read by others'],
      [['--key', key.publicKeyFile, '--out', target], 1, 'is a public key; --key takes the private key'],
      [['--key', key.privateKeyFile, '--out', out], 1, 'is not empty'],
      [['--key', key.privateKeyFile], 2, 'usage: scripts/release.sh'],
      [['--key', key.privateKeyFile, '--out', target, '--bogus'], 2, 'unknown argument: --bogus'],
    ];
    chmodSync(key.publicKeyFile, 0o600);
    for (const [args, status, message] of refusals) {
      const run = await runReleaseScript(args);
      expect(run.status).toBe(status);
      expect(run.stderr).toContain(message);
      expect(readdirSync(root)).not.toContain('refused');
    }
    chmodSync(key.publicKeyFile, 0o644);
  });
});
