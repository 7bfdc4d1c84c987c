import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTAINER_UID } from '../../src/core/container-spec.js';
import { homeLabels } from '../../src/core/container-labels.js';
import { builtinPluginImage } from '../../src/images/builtin-plugins.js';
import { ensureImage, type EnsuredImage } from '../../src/images/ensure-image.js';
import type { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { connectTestPodman, testHome } from '../support/podman-test-runtime.js';
import { podman } from '../images/podman-cli.js';
import { makeContainerUserDir, startPlugin } from './plugin-container.js';

/**
 * The memory plugin's image under the hardened spec in real Podman, with its storage directory
 * mounted at /data: notes survive the container, hostile search text is only ever words, and
 * without storage the plugin refuses to start. Needs `pnpm build`.
 */

const home = testHome();
let runtime: DockerApiRuntime;
let image: EnsuredImage;
let storageDir: string;

beforeAll(async () => {
  runtime = await connectTestPodman();
  image = await ensureImage(runtime, await builtinPluginImage('memory'));
  storageDir = await makeContainerUserDir('carapace-memory-data-');
});

afterAll(async () => {
  for (const container of await runtime.list(homeLabels(home))) await runtime.remove(container.id);
  await runtime[Symbol.asyncDispose]();
  // Only an image this suite loaded: another suite may have loaded the same content first.
  if (image?.loaded) await podman(['rmi', image.reference]);
  if (storageDir) await rm(storageDir, { recursive: true, force: true });
});

const HOSTILE_QUERIES = ['"', 'NEAR(', 'milk"', '*', '-milk', 'milk AND', 'text:', "'); DROP TABLE notes; --", '"'.repeat(1024)];

describe('memory plugin image', () => {
  it('stores, searches and deletes notes in /data/memory.db, which outlives the container', async () => {
    let id = 0;
    {
      await using plugin = await startPlugin(runtime, { plugin: 'memory', image: image.pinnedReference, home, storageDir });
      const stored = await plugin.call('store', { text: 'The spare key is under the blue flowerpot', tags: ['house'] });
      expect(stored).toMatchObject({ ok: true, result: { id: expect.any(Number) } });
      id = stored.ok ? (stored.result as { id: number }).id : 0;
      expect(await plugin.call('search', { query: 'where is the key?' })).toMatchObject({
        ok: true,
        result: { notes: [{ id, text: 'The spare key is under the blue flowerpot', tags: ['house'], createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }], truncated: false },
      });
      expect((await plugin.shutdown()).exitCode).toBe(0);
    }
    const files = await readdir(storageDir);
    expect(files).toContain('memory.db');
    expect((await stat(join(storageDir, 'memory.db'))).uid).toBe(CONTAINER_UID);

    await using again = await startPlugin(runtime, { plugin: 'memory', image: image.pinnedReference, home, storageDir });
    expect(await again.call('search', { query: 'flowerpot', limit: 5 })).toMatchObject({ ok: true, result: { notes: [{ id }] } });
    expect(await again.call('delete', { id })).toMatchObject({ ok: true, result: { deleted: true } });
    expect(await again.call('delete', { id })).toMatchObject({ ok: true, result: { deleted: false } });
    expect(await again.call('search', { query: 'flowerpot' })).toMatchObject({ ok: true, result: { notes: [] } });
  });

  it('answers hostile search text as plain words, never with an SQLite error', async () => {
    await using plugin = await startPlugin(runtime, { plugin: 'memory', image: image.pinnedReference, home, storageDir });
    await plugin.call('store', { text: 'milk and NEAR things' });
    for (const query of HOSTILE_QUERIES) {
      expect(await plugin.call('search', { query }), query).toMatchObject({ ok: true, result: { notes: expect.any(Array) } });
    }
    expect(await plugin.call('search', { query: 'NEAR(' })).toMatchObject({ ok: true, result: { notes: [{ text: 'milk and NEAR things' }] } });
  });

  it('refuses to start without its storage mount', async () => {
    const failure = await startPlugin(runtime, { plugin: 'memory', image: image.pinnedReference, home }).then(
      async (plugin) => {
        await plugin[Symbol.asyncDispose]();
        return undefined;
      },
      (error: unknown) => error,
    );
    // /data in the image is root's and read-only: the database cannot be created, and the plugin
    // says so by code before it ever announces itself ready.
    expect(String(failure)).toMatch(/exited \(1\) before it was ready: memory: plugin stopped: SQLITE_CANTOPEN/);
  });
});
