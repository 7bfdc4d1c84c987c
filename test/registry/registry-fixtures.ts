import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { HomeLayout } from '../../src/config/carapace-home.js';
import { writeImageArchive } from '../../src/images/image-builder.js';
import { toOciImage, type OciImage } from '../../src/images/oci-image.js';
import { readOciArchive } from '../../src/registry/oci-layout.js';
import { pushOciImage, type PushedImage } from '../../src/registry/push-image.js';
import type { RegistryClient } from '../../src/registry/registry-client.js';
import { pushSignatureBundle } from '../../src/registry/signature-artifact.js';
import { signImageDigest } from '../../src/trust/sign-image.js';
import type { SigningKey } from '../../src/trust/signing-key.js';
import { loadTrustPolicy, saveTrustPolicy } from '../../src/trust/trust-policy.js';

/** Pushes an image the builder made (its OCI layout archive) under `repository:tag`. */
export async function pushBuiltImage(client: RegistryClient, repository: string, tag: string, image: OciImage): Promise<PushedImage> {
  const dir = await mkdtemp(join(tmpdir(), 'carapace-push-'));
  try {
    return await pushOciImage(client, repository, tag, await readOciArchive(await writeImageArchive(image, dir)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Signs the pushed digest with `key` (real ECDSA, a key-pair Sigstore bundle) and stores the bundle beside it. */
export async function pushSignature(client: RegistryClient, repository: string, pushed: PushedImage, key: SigningKey): Promise<void> {
  const bundle = await signImageDigest(pushed.digest, key);
  await pushSignatureBundle(client, repository, pushed, Buffer.from(JSON.stringify(bundle), 'utf8'));
}

/** Adds `key` to the home's trust policy under `id`. */
export async function trustKey(layout: HomeLayout, key: SigningKey, id: string): Promise<void> {
  const policy = await loadTrustPolicy(layout.trustPolicyFile);
  await saveTrustPolicy(layout.trustPolicyFile, { ...policy, keys: [...policy.keys, { id, publicKeyPem: key.publicKeyPem }] });
}

/**
 * A small image with no binaries: enough for every refusal, which happens before anything would
 * run. `marker` makes its content (and digest, and blobs) its own.
 */
export function smallPluginImage(marker: string, options: { readonly withManifest?: boolean } = {}): OciImage {
  const manifest = { name: marker, version: '1.0.0', image: `localhost/${marker}`, tools: [] };
  return toOciImage({
    name: `localhost/carapace/${marker}`,
    architecture: 'amd64',
    compression: 'none',
    config: { path: '/usr/local/bin', workdir: '/', entrypoint: ['/app/main'] },
    layerEntries: [
      { type: 'directory', path: 'carapace', mode: 0o755 },
      ...(options.withManifest === false ? [] : [{ type: 'file' as const, path: 'carapace/manifest.json', mode: 0o444, content: Buffer.from(JSON.stringify(manifest)) }]),
      { type: 'file', path: 'app/main', mode: 0o555, content: Buffer.from(marker) },
    ],
  });
}

/**
 * Every path under `root` with its type, mode and content hash (or link target): two snapshots are
 * equal only if nothing was created, removed, changed or re-moded.
 */
export async function treeSnapshot(root: string): Promise<Record<string, string>> {
  const snapshot: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, entry.name);
      const stats = await lstat(path);
      const mode = (stats.mode & 0o7777).toString(8);
      const key = relative(root, path);
      if (entry.isSymbolicLink()) snapshot[key] = `link ${await readlink(path)}`;
      else if (entry.isDirectory()) {
        snapshot[key] = `dir ${mode}`;
        await walk(path);
      } else if (entry.isFile()) snapshot[key] = `file ${mode} ${createHash('sha256').update(await readFile(path)).digest('hex')}`;
      else snapshot[key] = `other ${mode}`;
    }
  };
  await walk(root);
  return snapshot;
}
