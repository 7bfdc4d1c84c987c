import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readTar, readTarFile } from '../../test/images/tar-reader.js';
import { buildImage, composeImage, digestImage } from './image-builder.js';
import type { ImageDefinition } from './image-definition.js';

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'carapace-image-builder-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

async function exampleDefinition(toolContent = 'echo hello\n'): Promise<ImageDefinition> {
  const toolPath = join(work, 'tool.sh');
  await writeFile(toolPath, toolContent, { mode: 0o600 });
  return {
    name: 'localhost/carapace/example',
    rootfs: [
      { type: 'file', path: '/bin/tool', mode: 0o555, source: { hostPath: toolPath } },
      { type: 'symlink', path: '/bin/run', target: 'tool' },
      { type: 'file', path: '/etc/motd', mode: 0o444, source: { content: 'hi\n' } },
      { type: 'directory', path: '/tmp', mode: 0o1777 },
    ],
    config: { cmd: ['/bin/tool'], workdir: '/', path: '/bin', labels: { 'b.label': '2', 'a.label': '1' } },
  };
}

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function blob(archive: Buffer, digest: string): Promise<Buffer> {
  return readTarFile(archive, `blobs/sha256/${digest.slice('sha256:'.length)}`);
}

describe('buildImage', () => {
  it('gives the same manifest digest and byte-identical archives on two builds', async () => {
    const definition = await exampleDefinition();
    const first = await buildImage(definition, { outputDir: join(work, 'one'), architecture: 'amd64' });
    const second = await buildImage(definition, { outputDir: join(work, 'two'), architecture: 'amd64' });
    expect(second.manifestDigest).toBe(first.manifestDigest);
    expect(second.configDigest).toBe(first.configDigest);
    expect((await readFile(second.archivePath)).equals(await readFile(first.archivePath))).toBe(true);
  });

  it('changes the digest when a file, a mode or a label changes', async () => {
    const base = await composeImage(await exampleDefinition(), { architecture: 'amd64' });
    const otherContent = await composeImage(await exampleDefinition('echo bye\n'), { architecture: 'amd64' });
    const definition = await exampleDefinition();
    const otherMode = await composeImage(
      { ...definition, rootfs: definition.rootfs.map((entry) => (entry.path === '/bin/tool' ? { ...entry, mode: 0o755 } : entry)) },
      { architecture: 'amd64' },
    );
    const otherLabel = await composeImage(
      { ...definition, config: { ...definition.config, labels: { 'a.label': 'changed' } } },
      { architecture: 'amd64' },
    );
    const digests = new Set([base, otherContent, otherMode, otherLabel].map((image) => image.manifestDigest));
    expect(digests.size).toBe(4);
  });

  it('writes an OCI layout whose index, manifest and blobs agree with their digests', async () => {
    const built = await buildImage(await exampleDefinition(), { outputDir: work, architecture: 'amd64' });
    const archive = await readFile(built.archivePath);
    expect((await readTar(archive)).map((entry) => entry.path)).toEqual([
      'blobs/',
      'blobs/sha256/',
      ...(await readdirBlobs(archive)),
      'index.json',
      'oci-layout',
    ]);
    expect(JSON.parse((await readTarFile(archive, 'oci-layout')).toString())).toEqual({ imageLayoutVersion: '1.0.0' });

    const index = JSON.parse((await readTarFile(archive, 'index.json')).toString());
    expect(index.manifests).toEqual([
      expect.objectContaining({
        digest: built.manifestDigest,
        annotations: { 'org.opencontainers.image.ref.name': built.reference },
      }),
    ]);
    const manifestBytes = await blob(archive, built.manifestDigest);
    expect(sha256(manifestBytes)).toBe(built.manifestDigest);
    const manifest = JSON.parse(manifestBytes.toString());
    expect(manifest.config.digest).toBe(built.configDigest);
    const layerBytes = await blob(archive, manifest.layers[0].digest);
    expect(sha256(layerBytes)).toBe(manifest.layers[0].digest);
    expect(manifest.layers[0].mediaType).toBe('application/vnd.oci.image.layer.v1.tar');

    const configBytes = await blob(archive, built.configDigest);
    expect(sha256(configBytes)).toBe(built.configDigest);
    // Field order is part of the digest, so the exact serialisation is pinned here.
    expect(Object.keys(JSON.parse(configBytes.toString()))).toEqual(['created', 'architecture', 'os', 'config', 'rootfs', 'history']);
    expect(JSON.parse(configBytes.toString())).toMatchObject({
      created: '1970-01-01T00:00:00Z',
      config: { User: '10001:10001', Env: ['PATH=/bin'], Cmd: ['/bin/tool'], Labels: { 'a.label': '1', 'b.label': '2' } },
      rootfs: { type: 'layers', diff_ids: [manifest.layers[0].digest] },
    });
    expect(Object.keys(JSON.parse(configBytes.toString()).config.Labels)).toEqual(['a.label', 'b.label']);
  });

  it('writes the layer with sorted entries, implicit parents, mtime 0 and root ownership', async () => {
    const image = await composeImage(await exampleDefinition(), { architecture: 'amd64' });
    const manifest = JSON.parse((await blob(image.archive, image.manifestDigest)).toString());
    const layer = await readTar(await blob(image.archive, manifest.layers[0].digest));
    expect(layer.map((entry) => [entry.path, entry.mode, entry.uid, entry.gid, entry.mtime])).toEqual([
      ['bin/', 0o755, 0, 0, 0],
      ['bin/run', 0o777, 0, 0, 0],
      ['bin/tool', 0o555, 0, 0, 0],
      ['etc/', 0o755, 0, 0, 0],
      ['etc/motd', 0o444, 0, 0, 0],
      ['tmp/', 0o1777, 0, 0, 0],
    ]);
  });

  it('builds a deterministic gzip layer whose diff_id is the uncompressed digest', async () => {
    const definition = await exampleDefinition();
    const first = await composeImage(definition, { architecture: 'amd64', compression: 'gzip' });
    const second = await composeImage(definition, { architecture: 'amd64', compression: 'gzip' });
    expect(second.archive.equals(first.archive)).toBe(true);
    const plain = await composeImage(definition, { architecture: 'amd64' });
    expect(first.diffId).toBe(plain.diffId);
    expect(first.layerDigest).not.toBe(first.diffId);
    expect(sha256(gunzipSync(await blob(first.archive, first.layerDigest)))).toBe(first.diffId);
  });

  it('fails with IMAGE_BUILD_FAILED when a host file is missing, and writes nothing', async () => {
    const definition: ImageDefinition = {
      name: 'localhost/carapace/broken',
      rootfs: [{ type: 'file', path: '/bin/tool', mode: 0o555, source: { hostPath: join(work, 'missing') } }],
      config: { cmd: ['/bin/tool'], workdir: '/', path: '/bin' },
    };
    const outputDir = join(work, 'out');
    await expect(buildImage(definition, { outputDir })).rejects.toMatchObject({ code: 'IMAGE_BUILD_FAILED' });
    await expect(readdir(outputDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

async function readdirBlobs(archive: Buffer): Promise<string[]> {
  return (await readTar(archive))
    .map((entry) => entry.path)
    .filter((path) => path.startsWith('blobs/sha256/') && path.length > 'blobs/sha256/'.length)
    .sort();
}

describe('digestImage', () => {
  it('gives exactly the digests composeImage gives, hashing host files as streams', async () => {
    // Sizes around the read buffer (1 MiB) and the tar block (512), an empty file, bytes inline.
    const sizes = [0, 1, 511, 512, 513, 1024 * 1024, 1024 * 1024 + 700, 3 * 1024 * 1024 + 1];
    const files = await Promise.all(
      sizes.map(async (size, index) => {
        const hostPath = join(work, `file-${index}`);
        await writeFile(hostPath, Buffer.alloc(size, index + 1));
        return { type: 'file' as const, path: `/data/f${index}`, mode: 0o444, source: { hostPath } };
      }),
    );
    const base = await exampleDefinition();
    const definition: ImageDefinition = {
      ...base,
      rootfs: [...base.rootfs, ...files, { type: 'file', path: '/etc/bytes', mode: 0o400, source: { content: new Uint8Array([0, 1, 2]) } }],
    };
    for (const options of [{ architecture: 'amd64' }, { architecture: 'arm64', compression: 'gzip' as const }]) {
      const { archive: _archive, ...composed } = await composeImage(definition, options);
      expect(await digestImage(definition, options)).toEqual(composed);
    }
  });

  it('fails with IMAGE_BUILD_FAILED for a host file it cannot read, as composeImage does', async () => {
    const definition: ImageDefinition = { ...(await exampleDefinition()), rootfs: [{ type: 'file', path: '/x', mode: 0o444, source: { hostPath: join(work, 'absent') } }] };
    await expect(digestImage(definition)).rejects.toMatchObject({ code: 'IMAGE_BUILD_FAILED', details: { imagePath: '/x' } });
  });
});
