import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CarapaceError } from '../errors.js';
import type { ContainerRuntime, ImageSummary } from '../runtime/container-runtime.js';
import { readTarFile } from '../../test/images/tar-reader.js';
import type { BuildMemo } from './build-memo.js';
import { composeImage } from './image-builder.js';
import type { ImageDefinition } from './image-definition.js';
import { ensureImage } from './ensure-image.js';
import { fingerprintImageInputs } from './input-fingerprint.js';

const definition: ImageDefinition = {
  name: 'localhost/carapace/ensure-test',
  rootfs: [{ type: 'file', path: '/bin/tool', mode: 0o555, source: { content: '#!/bin/sh\n' } }],
  config: { cmd: ['/bin/tool'], workdir: '/', path: '/bin' },
};

/** A runtime that keeps images in a map and, like Podman, answers with the config digest as id. */
class FakeRuntime implements Pick<ContainerRuntime, 'findImage' | 'loadImage'> {
  readonly images = new Map<string, ImageSummary>();
  readonly loadedArchives: Buffer[] = [];
  loadIdOverride: string | undefined;
  failLoad = false;

  async findImage(reference: string): Promise<ImageSummary | undefined> {
    return this.images.get(reference);
  }

  async loadImage(archivePath: string): Promise<string> {
    if (this.failLoad) throw new CarapaceError('RUNTIME_REQUEST_FAILED', 'load refused');
    const archive = await readFile(archivePath);
    this.loadedArchives.push(archive);
    const index = JSON.parse((await readTarFile(archive, 'index.json')).toString());
    const manifestDigest: string = index.manifests[0].digest;
    const manifest = JSON.parse((await readTarFile(archive, `blobs/sha256/${manifestDigest.slice(7)}`)).toString());
    const id: string = this.loadIdOverride ?? manifest.config.digest;
    const name: string = index.manifests[0].annotations['org.opencontainers.image.ref.name'];
    this.images.set(name, { id, tags: [name], digests: [manifestDigest] });
    return id;
  }
}

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'carapace-ensure-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('ensureImage', () => {
  it('loads a missing image, reports its ids and removes the archive afterwards', async () => {
    const runtime = new FakeRuntime();
    const ensured = await ensureImage(runtime, definition, { workDir: work });
    const image = await composeImage(definition);
    expect(ensured).toMatchObject({
      loaded: true,
      reference: image.reference,
      pinnedReference: `localhost/carapace/ensure-test@${image.manifestDigest}`,
      imageId: image.configDigest,
    });
    expect(runtime.loadedArchives).toHaveLength(1);
    expect(runtime.loadedArchives[0]?.equals(image.archive)).toBe(true);
    expect(await readdir(work)).toEqual([]);
  });

  it('does not load again when the runtime already has the same image', async () => {
    const runtime = new FakeRuntime();
    await ensureImage(runtime, definition, { workDir: work });
    const again = await ensureImage(runtime, definition, { workDir: work });
    expect(again.loaded).toBe(false);
    expect(runtime.loadedArchives).toHaveLength(1);
  });

  it('accepts an id without the sha256: prefix', async () => {
    const runtime = new FakeRuntime();
    const image = await composeImage(definition);
    runtime.images.set(image.reference, { id: image.configDigest.slice(7), tags: [], digests: [] });
    expect((await ensureImage(runtime, definition, { workDir: work })).loaded).toBe(false);
  });

  it('loads over an image that carries our name but other content', async () => {
    const runtime = new FakeRuntime();
    const image = await composeImage(definition);
    runtime.images.set(image.reference, { id: `sha256:${'0'.repeat(64)}`, tags: [image.reference], digests: [] });
    expect((await ensureImage(runtime, definition, { workDir: work })).loaded).toBe(true);
    expect(runtime.images.get(image.reference)?.id).toBe(image.configDigest);
  });

  it('fails with IMAGE_LOAD_FAILED when the runtime loads something else, and leaves no archive', async () => {
    const runtime = new FakeRuntime();
    runtime.loadIdOverride = `sha256:${'1'.repeat(64)}`;
    await expect(ensureImage(runtime, definition, { workDir: work })).rejects.toMatchObject({ code: 'IMAGE_LOAD_FAILED' });
    expect(await readdir(work)).toEqual([]);
  });

  it('keeps the runtime error code when the load itself fails, and leaves no archive', async () => {
    const runtime = new FakeRuntime();
    runtime.failLoad = true;
    await expect(ensureImage(runtime, definition, { workDir: work })).rejects.toMatchObject({ code: 'RUNTIME_REQUEST_FAILED' });
    expect(await readdir(work)).toEqual([]);
  });
});

describe('ensureImage with a build memo', () => {
  const memo = (): BuildMemo & { entries: Map<string, string> } => {
    const entries = new Map<string, string>();
    return { entries, recall: (key) => entries.get(key), remember: (key, value) => void entries.set(key, value) };
  };
  const fromHost = async (content: string): Promise<ImageDefinition> => {
    await writeFile(join(work, 'tool'), content);
    return { ...definition, rootfs: [{ type: 'file', path: '/bin/tool', mode: 0o555, source: { hostPath: join(work, 'tool') } }] };
  };
  const fake = (name: string, hex: string) => ({
    reference: `${name}:sha256-${hex.repeat(32)}`,
    pinnedReference: `${name}@sha256:${hex.repeat(64)}`,
    imageId: `sha256:${'c'.repeat(64)}`,
    manifestDigest: `sha256:${hex.repeat(64)}`,
    configDigest: `sha256:${'c'.repeat(64)}`,
  });

  it('remembers what the inputs composed to, and on a hit answers from the memo without composing', async () => {
    const runtime = new FakeRuntime();
    const known = memo();
    const hostDefinition = await fromHost('#!/bin/sh\n');
    const first = await ensureImage(runtime, hostDefinition, { workDir: work, memo: known });
    expect(known.entries.size).toBe(1);
    // Proof that a hit does not compose: a remembered answer no composition could give is returned as is.
    const fingerprint = fingerprintImageInputs(hostDefinition) ?? '';
    const planted = fake(definition.name, 'a');
    known.entries.set(fingerprint, JSON.stringify(planted));
    runtime.images.set(planted.reference, { id: planted.configDigest, tags: [planted.reference], digests: [] });
    expect(await ensureImage(runtime, hostDefinition, { workDir: work, memo: known })).toEqual({ ...planted, loaded: false });
    expect(first.manifestDigest).not.toBe(planted.manifestDigest);
  });

  it('composes again when an input changed, and when the runtime lacks the remembered image', async () => {
    const runtime = new FakeRuntime();
    const known = memo();
    const first = await ensureImage(runtime, await fromHost('one\n'), { workDir: work, memo: known });
    const changed = await ensureImage(runtime, await fromHost('two\n'), { workDir: work, memo: known });
    expect(changed.manifestDigest).not.toBe(first.manifestDigest);
    expect(changed).toMatchObject({ loaded: true, manifestDigest: (await composeImage(await fromHost('two\n'))).manifestDigest });

    runtime.images.clear();
    expect(await ensureImage(runtime, await fromHost('two\n'), { workDir: work, memo: known })).toMatchObject({ loaded: true });
  });

  it('ignores a remembered answer that is not well formed, or names another image, and composes', async () => {
    const runtime = new FakeRuntime();
    const known = memo();
    const hostDefinition = await fromHost('x\n');
    const fingerprint = fingerprintImageInputs(hostDefinition) ?? '';
    const expected = (await composeImage(hostDefinition)).manifestDigest;
    for (const planted of ['not json', JSON.stringify({ ...fake(definition.name, 'a'), manifestDigest: 'sha256:zz' }), JSON.stringify(fake('localhost/other', 'a'))]) {
      known.entries.set(fingerprint, planted);
      runtime.images.set(fake('localhost/other', 'a').reference, { id: `sha256:${'c'.repeat(64)}`, tags: [], digests: [] });
      expect((await ensureImage(runtime, hostDefinition, { workDir: work, memo: known })).manifestDigest).toBe(expected);
    }
  });

  it('uses no memo for inputs it cannot fingerprint, and fails as a build without one', async () => {
    const known = memo();
    const missing: ImageDefinition = { ...definition, rootfs: [{ type: 'file', path: '/bin/tool', mode: 0o555, source: { hostPath: join(work, 'absent') } }] };
    await expect(ensureImage(new FakeRuntime(), missing, { workDir: work, memo: known })).rejects.toMatchObject({ code: 'IMAGE_BUILD_FAILED' });
    expect(known.entries.size).toBe(0);
  });
});
