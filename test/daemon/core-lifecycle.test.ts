import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerLabels, homeLabels } from '../../src/core/container-labels.js';
import { toHardenedSpec } from '../../src/core/container-spec.js';
import { canaryImageDefinition, canarySleepCommand } from '../../src/images/canary-image.js';
import { ensureImage } from '../../src/images/ensure-image.js';
import { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { runCliProcess, spawnCli, type CliProcess } from '../support/cli-process.js';
import { podmanSocket } from '../support/podman.js';
import { freshHome } from '../support/run-cli-in-process.js';

describe('core lifecycle against real Podman', () => {
  let runtime: DockerApiRuntime;
  let home: string;
  let image: string;
  const started: CliProcess[] = [];

  beforeAll(async () => {
    runtime = await DockerApiRuntime.connect(podmanSocket());
    image = (await ensureImage(runtime, canaryImageDefinition())).imageId;
    home = await freshHome();
    await mkdir(home, { mode: 0o700 });
    await writeFile(join(home, 'config.toml'), `[runtime]\nsocket = "${podmanSocket()}"\n`, { mode: 0o600 });
  });

  afterAll(async () => {
    for (const core of started) core.child.kill('SIGKILL');
    await runtime.list(homeLabels(home)).then((left) => Promise.all(left.map((c) => runtime.remove(c.id))));
    await runtime[Symbol.asyncDispose]();
  });

  const startCore = async (): Promise<CliProcess> => {
    const core = spawnCli(['--home', home, 'start']);
    started.push(core);
    await core.waitForStderr('core started');
    return core;
  };

  /** Stands in for a plugin container the core started: same home labels, hardened spec. */
  const startPluginLikeContainer = async (name: string): Promise<string> => {
    const socketDir = join(home, 'sockets', name);
    await mkdir(socketDir, { mode: 0o700 });
    const container = await runtime.start(
      toHardenedSpec({ name, image, command: canarySleepCommand(300), socketDir, labels: containerLabels(home, 'plugin') }),
    );
    return container.id;
  };

  it('removes the containers of a SIGKILLed core on the next start', async () => {
    const first = await startCore();
    const orphanId = await startPluginLikeContainer(`carapace-orphan-${Date.now()}`);

    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    // The killed core's two plugin containers (echo, memory) and the one started beside them.
    const orphans = (await runtime.list(homeLabels(home))).map((c) => c.id);
    expect(orphans).toHaveLength(3);
    expect(orphans).toContain(orphanId);
    expect(existsSync(join(home, 'run', 'core.pid'))).toBe(true);
    expect((await runCliProcess(['--home', home, 'status'])).code).toBe(5);

    const second = await startCore();
    expect(second.stderr()).toContain('3 orphan containers removed');
    const serving = (await runtime.list(homeLabels(home))).map((c) => c.id);
    expect(serving).toHaveLength(2);
    for (const id of orphans) expect(serving).not.toContain(id);

    const rival = await runCliProcess(['--home', home, 'start']);
    expect(rival.code).toBe(5);
    expect(rival.stderr).toContain('[CORE_ALREADY_RUNNING]');

    const status = await runCliProcess(['--json', '--home', home, 'status']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ running: true, pid: second.child.pid, runtime: expect.stringContaining('podman') });

    const stop = await runCliProcess(['--home', home, 'stop']);
    expect(stop.code).toBe(0);
    expect(await second.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(join(home, 'run', 'core.pid'))).toBe(false);
  });

  it('removes its own containers when stopped with SIGTERM', async () => {
    const core = await startCore();
    await startPluginLikeContainer(`carapace-owned-${Date.now()}`);
    core.child.kill('SIGTERM');
    expect((await core.exited).code).toBe(0);
    expect(await runtime.list(homeLabels(home))).toEqual([]);
  });
});
