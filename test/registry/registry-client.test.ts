import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeImageArchive } from '../../src/images/image-builder.js';
import { toOciImage, type OciImage } from '../../src/images/oci-image.js';
import { readOciArchive } from '../../src/registry/oci-layout.js';
import { pullSignedImage, type SignedDigest } from '../../src/registry/pull-image.js';
import { pushOciImage } from '../../src/registry/push-image.js';
import { RegistryClient } from '../../src/registry/registry-client.js';
import { parseRegistryReference } from '../../src/registry/registry-reference.js';
import { fetchSignatureBundle, pushSignatureBundle, toSignatureTag } from '../../src/registry/signature-artifact.js';
import { readTarFile } from '../images/tar-reader.js';
import { startLoopbackRegistry, tamperWithBlob, type LoopbackRegistry } from '../support/docker-registry.js';

/**
 * The OCI distribution client against Debian's real docker-registry on loopback: push, resolve,
 * pull with every digest checked, signature artifacts by cosign's tag convention, and what a
 * registry that serves other bytes than it was given gets.
 */

let registry: LoopbackRegistry;
let client: RegistryClient;
let work: string;

beforeAll(async () => {
  registry = await startLoopbackRegistry();
  client = new RegistryClient(registry.host, { plainHttp: true });
  work = await mkdtemp(join(tmpdir(), 'carapace-registry-test-'));
});

afterAll(async () => {
  await client?.[Symbol.asyncDispose]();
  await registry?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

/** A small image (no binaries) whose one layer carries /carapace/manifest.json and a skill. */
function smallImage(marker: string, compression: 'none' | 'gzip' = 'none'): OciImage {
  return toOciImage({
    name: 'localhost/carapace/registry-test',
    architecture: 'amd64',
    compression,
    config: { path: '/usr/local/bin', workdir: '/', entrypoint: ['/app/main'] },
    layerEntries: [
      { type: 'directory', path: 'carapace', mode: 0o755 },
      { type: 'file', path: 'carapace/manifest.json', mode: 0o444, content: Buffer.from(`{"marker":"${marker}"}`) },
      { type: 'directory', path: 'carapace/skills', mode: 0o755 },
      { type: 'file', path: 'carapace/skills/use.md', mode: 0o444, content: Buffer.from(`# ${marker}\n`) },
      { type: 'file', path: 'app/main', mode: 0o555, content: Buffer.from(marker) },
    ],
  });
}

async function push(repository: string, tag: string, image: OciImage): Promise<{ digest: string; size: number }> {
  const archive = await writeImageArchive(image, await mkdtemp(join(work, 'archive-')));
  return pushOciImage(client, repository, tag, await readOciArchive(archive));
}

const accept = (): { calls: SignedDigest[]; verify: (signed: SignedDigest) => void } => {
  const calls: SignedDigest[] = [];
  return { calls, verify: (signed) => void calls.push(signed) };
};

describe('a registry round trip', () => {
  it('pushes an image, resolves its tag to the built digest and pulls it back byte for byte with its bundle', async () => {
    for (const compression of ['none', 'gzip'] as const) {
      const image = smallImage(`round-trip-${compression}`, compression);
      const pushed = await push('carapace/round-trip', compression, image);
      expect(pushed.digest).toBe(image.manifestDigest);
      expect(await client.resolveTag('carapace/round-trip', compression)).toBe(image.manifestDigest);
      const bundle = Buffer.from(JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', marker: compression }));
      await pushSignatureBundle(client, 'carapace/round-trip', pushed, bundle);

      const dir = await mkdtemp(join(work, 'pull-'));
      const verifier = accept();
      const pulled = await pullSignedImage(client, parseRegistryReference(`${registry.host}/carapace/round-trip:${compression}`), { workDir: dir, verify: verifier.verify });
      expect(verifier.calls.map((call) => [call.digest, call.bundle.bytes.equals(bundle)])).toEqual([[image.manifestDigest, true]]);
      expect(pulled).toMatchObject({ digest: image.manifestDigest, configDigest: image.configDigest, repository: `${registry.host}/carapace/round-trip` });
      expect(pulled.carapaceFiles.get('manifest.json')?.toString()).toBe(`{"marker":"round-trip-${compression}"}`);
      expect(pulled.carapaceFiles.get('skills/use.md')?.toString()).toBe(`# round-trip-${compression}\n`);
      // The archive is a loadable OCI layout holding the very manifest that was signed.
      const archive = await readFile(pulled.archivePath);
      const index = JSON.parse((await readTarFile(archive, 'index.json')).toString()) as { manifests: { digest: string; annotations: Record<string, string> }[] };
      expect(index.manifests[0]?.digest).toBe(image.manifestDigest);
      expect(index.manifests[0]?.annotations['org.opencontainers.image.ref.name']).toBe(pulled.reference);
      expect(await readTarFile(archive, `blobs/sha256/${image.layerDigest.slice(7)}`)).toEqual(await blobOf(image, image.layerDigest));
    }
  });

  it('pulls by digest without asking for any tag, and stores the bundle under the cosign-style tag', async () => {
    const image = smallImage('by-digest');
    const pushed = await push('carapace/by-digest', 'v1', image);
    await pushSignatureBundle(client, 'carapace/by-digest', pushed, Buffer.from('{"a":1}'));
    expect(toSignatureTag(image.manifestDigest)).toBe(`sha256-${image.manifestDigest.slice(7)}.sigstore`);
    expect((await fetchSignatureBundle(client, 'carapace/by-digest', image.manifestDigest)).json).toEqual({ a: 1 });
    const pulled = await pullSignedImage(client, parseRegistryReference(`${registry.host}/carapace/by-digest@${image.manifestDigest}`), {
      workDir: await mkdtemp(join(work, 'pull-')),
      verify: () => undefined,
    });
    expect(pulled.digest).toBe(image.manifestDigest);
  });
});

describe('refusals', () => {
  it('an image without a signature: SIGNATURE_MISSING before any layer is downloaded', async () => {
    const image = smallImage('unsigned');
    await push('carapace/unsigned', 'v1', image);
    const dir = await mkdtemp(join(work, 'pull-'));
    const verifier = accept();
    await expect(pullSignedImage(client, parseRegistryReference(`${registry.host}/carapace/unsigned:v1`), { workDir: dir, verify: verifier.verify })).rejects.toMatchObject({
      code: 'SIGNATURE_MISSING',
    });
    expect(verifier.calls).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a verifier that refuses stops the pull before any layer is downloaded', async () => {
    const image = smallImage('refused');
    const pushed = await push('carapace/refused', 'v1', image);
    await pushSignatureBundle(client, 'carapace/refused', pushed, Buffer.from('{}'));
    const dir = await mkdtemp(join(work, 'pull-'));
    const refusal = Object.assign(new Error('no'), { code: 'SIGNATURE_UNTRUSTED' });
    await expect(
      pullSignedImage(client, parseRegistryReference(`${registry.host}/carapace/refused:v1`), {
        workDir: dir,
        verify: () => {
          throw refusal;
        },
      }),
    ).rejects.toBe(refusal);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a layer whose stored bytes were replaced: IMAGE_DIGEST_MISMATCH, and the partial blob is removed', async () => {
    const image = smallImage('tampered-layer');
    const pushed = await push('carapace/tampered-layer', 'v1', image);
    await pushSignatureBundle(client, 'carapace/tampered-layer', pushed, Buffer.from('{}'));
    await tamperWithBlob(registry, image.layerDigest, (bytes) => Buffer.from(bytes.toString('latin1').replace('tampered-layer', 'tampered-LAYER'), 'latin1'));
    const dir = await mkdtemp(join(work, 'pull-'));
    const error = await pullSignedImage(client, parseRegistryReference(`${registry.host}/carapace/tampered-layer:v1`), { workDir: dir, verify: () => undefined }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'IMAGE_DIGEST_MISMATCH', details: { expected: image.layerDigest } });
    expect(await readdir(join(dir, 'layout', 'blobs', 'sha256'))).toEqual([image.configDigest.slice(7)]);
  });

  it('a manifest whose stored bytes were replaced: IMAGE_DIGEST_MISMATCH when pulled by digest', async () => {
    const image = smallImage('tampered-manifest');
    await push('carapace/tampered-manifest', 'v1', image);
    await tamperWithBlob(registry, image.manifestDigest, (bytes) => Buffer.from(bytes.toString().replace('"schemaVersion":2', '"schemaVersion": 2')));
    await expect(client.getManifest('carapace/tampered-manifest', image.manifestDigest)).rejects.toMatchObject({ code: 'IMAGE_DIGEST_MISMATCH' });
  });

  it('an unknown tag or repository: IMAGE_NOT_FOUND', async () => {
    await expect(client.resolveTag('carapace/nothing-here', 'v1')).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
  });

  it('a registry nobody listens on: REGISTRY_UNAVAILABLE', async () => {
    await using closed = new RegistryClient('127.0.0.1:1', { plainHttp: true });
    await expect(closed.resolveTag('x', 'v1')).rejects.toMatchObject({ code: 'REGISTRY_UNAVAILABLE' });
  });

  it('plain HTTP to anything but loopback is refused before any connection: REGISTRY_REFUSED', () => {
    for (const host of ['registry.example:5000', '10.0.0.1:5000', 'localhost.example.com', '[fe80::1]:5000']) {
      expect(() => new RegistryClient(host, { plainHttp: true })).toThrow(expect.objectContaining({ code: 'REGISTRY_REFUSED' }));
    }
  });
});

async function blobOf(image: OciImage, digest: string): Promise<Buffer> {
  return readTarFile(image.archive, `blobs/sha256/${digest.slice(7)}`);
}
