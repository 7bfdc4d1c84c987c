import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { homeLabels } from '../../src/core/container-labels.js';
import { readLiveCore } from '../../src/daemon/pid-lock.js';
import { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { runCliProcess } from '../support/cli-process.js';
import { podmanSocket } from '../support/podman.js';
import { freshHome } from '../support/run-cli-in-process.js';

/** The commands a person uses around a running core, run as the built CLI against real Podman. */
describe('carapace start --detach, status, plugin list, call, stop', () => {
  let home: string;
  const carapace = (...args: string[]) => runCliProcess(['--home', home, ...args]);

  beforeAll(async () => {
    home = await freshHome();
    await mkdir(home, { mode: 0o700 });
    await writeFile(join(home, 'config.toml'), `[runtime]\nsocket = "${podmanSocket()}"\n`, { mode: 0o600 });
  });

  afterAll(async () => {
    const core = await readLiveCore(join(home, 'run', 'core.pid'));
    if (core !== undefined) process.kill(core.pid, 'SIGKILL');
    await using runtime = await DockerApiRuntime.connect(podmanSocket());
    for (const container of await runtime.list(homeLabels(home))) await runtime.remove(container.id);
  });

  it('says the core is not running before it starts, and call fails with CORE_NOT_RUNNING', async () => {
    expect((await carapace('status')).code).toBe(5);
    const call = await carapace('call', 'echo.echo', '{"text":"hi"}');
    expect(call.code).toBe(5);
    expect(call.stderr).toContain('[CORE_NOT_RUNNING]');
    const list = await carapace('--json', 'plugin', 'list');
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toMatchObject({ running: false, plugins: [{ name: 'echo', state: 'not running' }, { name: 'memory', state: 'not running' }] });
  });

  it('starts in the background and serves tool calls through the CLI', async () => {
    const started = await carapace('--json', 'start', '--detach');
    expect(started.code, started.stderr).toBe(0);
    const { pid } = JSON.parse(started.stdout) as { pid: number };
    expect((await readLiveCore(join(home, 'run', 'core.pid')))?.pid).toBe(pid);

    const status = await carapace('--json', 'status');
    expect(JSON.parse(status.stdout)).toMatchObject({ running: true, pid, plugins: [{ name: 'echo', state: 'running' }, { name: 'memory', state: 'running' }] });
    expect((await carapace('plugin', 'list')).stdout).toMatch(/echo 0\.\d+\.\d+ {2}running {2}carapace-echo-/);

    const echo = await carapace('--json', 'call', 'echo.echo', '{"text":"hi from the CLI"}');
    expect(echo.code, echo.stderr).toBe(0);
    expect(JSON.parse(echo.stdout)).toEqual({ ok: true, topic: 'echo.echo', result: { text: 'hi from the CLI' } });

    const unknown = await carapace('call', 'echo.nope');
    expect(unknown.code).toBe(6);
    expect(unknown.stderr).toContain('[TOPIC_UNKNOWN]');
    const badArgs = await carapace('call', 'echo.echo', '{"text":1}');
    expect(badArgs.code).toBe(6);
    expect(badArgs.stderr).toContain('[ARGUMENTS_INVALID]');
    const notJson = await carapace('call', 'echo.echo', '{text');
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain('[CLI_USAGE]');
    // A detached core has no terminal to ask: high-risk calls are denied.
    const deleted = await carapace('call', 'memory.delete', '{"id":1}');
    expect(deleted.code).toBe(6);
    expect(deleted.stderr).toContain('[CONFIRMATION_DENIED]');

    const again = await carapace('start', '--detach');
    expect(again.code).toBe(5);
    expect(again.stderr).toContain('[CORE_ALREADY_RUNNING]');
  }, 240_000);

  it('stops and leaves no container behind', async () => {
    expect((await carapace('stop')).code).toBe(0);
    await using runtime = await DockerApiRuntime.connect(podmanSocket());
    expect(await runtime.list(homeLabels(home))).toEqual([]);
    expect((await carapace('status')).code).toBe(5);
  }, 60_000);
});
