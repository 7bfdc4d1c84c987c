import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeImage, writeImageArchive } from '../../src/images/image-builder.js';
import type { ImageDefinition } from '../../src/images/image-definition.js';
import type { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { podman } from '../images/podman-cli.js';
import { connectTestPodman } from '../support/podman-test-runtime.js';

/** Podman 4.3's compat `POST /images/load` takes an OCI archive as is (measured; no libpod fallback needed). */

let runtime: DockerApiRuntime;
let work: string;

beforeAll(async () => {
  runtime = await connectTestPodman();
  work = await mkdtemp(join(tmpdir(), 'carapace-load-'));
});

afterAll(async () => {
  await runtime?.[Symbol.asyncDispose]();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('loadImage and findImage on Podman', () => {
  it('loads an OCI archive and finds it by name, by id and by manifest digest', async () => {
    const definition: ImageDefinition = {
      name: 'localhost/carapace-test/load',
      rootfs: [{ type: 'file', path: '/marker', mode: 0o444, source: { content: 'x' } }],
      config: { cmd: ['/marker'], workdir: '/', path: '/bin' },
    };
    const image = await composeImage(definition);
    const archive = await writeImageArchive(image, work);
    const id = await runtime.loadImage(archive);
    expect(id).toBe(image.configDigest);
    expect(await runtime.findImage(image.reference)).toMatchObject({ id, tags: [image.reference] });
    expect((await runtime.findImage(image.pinnedReference))?.id).toBe(id);
    expect((await runtime.findImage(id))?.digests).toContain(image.pinnedReference);
  });

  it('says not found for an absent image, and refuses a reference that could reach another endpoint', async () => {
    expect(await runtime.findImage(`localhost/carapace-test/absent@sha256:${'1'.repeat(64)}`)).toBeUndefined();
    await expect(runtime.findImage('../../containers/json?all=1')).rejects.toMatchObject({ code: 'IMAGE_REFERENCE_INVALID' });
  });

  it('removes an image by its tag, says false for an absent one, and never forces out an image a container uses', async () => {
    const definition: ImageDefinition = {
      name: 'localhost/carapace-test/remove',
      rootfs: [{ type: 'file', path: '/marker', mode: 0o444, source: { content: 'remove me' } }],
      config: { cmd: ['/marker'], workdir: '/', path: '/bin' },
    };
    const image = await composeImage(definition);
    const id = await runtime.loadImage(await writeImageArchive(image, work));
    const user = await podman(['create', '--name', 'carapace-test-remove-user', image.reference]);
    expect(user.stderr).toBe('');
    try {
      expect(await runtime.removeImage(image.reference)).toBe('in-use');
      expect((await runtime.findImage(id))?.id).toBe(id);
    } finally {
      await podman(['rm', '--force', 'carapace-test-remove-user']);
    }
    expect(await runtime.removeImage(image.reference)).toBe('removed');
    expect(await runtime.findImage(id)).toBeUndefined();
    expect(await runtime.removeImage(image.reference)).toBe('absent');
    await expect(runtime.removeImage('../../containers/json?all=1')).rejects.toMatchObject({ code: 'IMAGE_REFERENCE_INVALID' });
  });

  it('fails with IMAGE_LOAD_FAILED on a missing or corrupt archive', async () => {
    await expect(runtime.loadImage(join(work, 'absent.tar'))).rejects.toMatchObject({ code: 'IMAGE_LOAD_FAILED' });
    const garbage = join(work, 'garbage.tar');
    await writeFile(garbage, 'not a tar archive');
    await expect(runtime.loadImage(garbage)).rejects.toMatchObject({ code: 'IMAGE_LOAD_FAILED' });
  });
});
