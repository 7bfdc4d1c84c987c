import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnsuredImage } from '../../src/images/ensure-image.js';
import type { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { homeLabels } from '../../src/core/container-labels.js';
import { removeContainers } from '../../src/runtime/remove-containers.js';
import { connectTestPodman, loadCanary, makeSocketDir, sh, testHome, testSpec } from '../support/podman-test-runtime.js';

/** What the daemon does at start: remove what a crashed run of the same home left, and nothing else. */

let runtime: DockerApiRuntime;
let canary: EnsuredImage;

beforeAll(async () => {
  runtime = await connectTestPodman();
  canary = await loadCanary(runtime);
});

afterAll(async () => {
  await runtime?.[Symbol.asyncDispose]();
});

describe('removeContainers on Podman', () => {
  it("removes this home's running and exited containers and leaves another home's", async () => {
    await using socketDir = await makeSocketDir();
    const home = testHome();
    const otherHome = testHome();
    // Left behind as a crash would leave them: started, never disposed.
    const running = await runtime.start(testSpec(canary.imageId, socketDir.path, home, { command: sh('sleep 60') }));
    const exited = await runtime.start(testSpec(canary.imageId, socketDir.path, home, { command: sh('true') }));
    await exited.wait({ timeoutMs: 20_000 });
    await using other = await runtime.start(testSpec(canary.imageId, socketDir.path, otherHome, { command: sh('sleep 60') }));

    const removed = await removeContainers(runtime, homeLabels(home));
    expect(removed.sort()).toEqual([running.id, exited.id].sort());
    expect(await runtime.list(homeLabels(home))).toEqual([]);
    expect((await runtime.list(homeLabels(otherHome))).map((container) => container.id)).toEqual([other.id]);
    expect(await removeContainers(runtime, homeLabels(home))).toEqual([]);
  });
});
