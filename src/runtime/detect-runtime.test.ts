import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { failed, FakeExecutor, ok } from '../../test/support/fake-executor.js';
import { FakeRuntime } from '../../test/support/fake-runtime.js';
import type { ContainerRuntime } from './container-runtime.js';
import { detectRuntime, type DetectionContext } from './detect-runtime.js';

let scratch: string;
let runDir: string;
let procRoot: string;

beforeEach(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'carapace-detect-'));
  runDir = join(scratch, 'run');
  procRoot = join(scratch, 'proc');
  await mkdir(procRoot);
});

afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A machine description: which programs exist and which sockets answer as what. */
function machine(options: {
  platform?: NodeJS.Platform;
  env?: Record<string, string>;
  programs?: Record<string, string>;
  sockets?: Record<string, FakeRuntime>;
  executor?: FakeExecutor;
  signals?: [number, string][];
}): DetectionContext {
  const sockets = options.sockets ?? {};
  return {
    env: options.env ?? {},
    platform: options.platform ?? 'linux',
    runDir,
    findExecutable: async (name) => options.programs?.[name],
    executor: options.executor ?? new FakeExecutor(),
    connectSocket: async (socketPath): Promise<ContainerRuntime> => {
      const runtime = sockets[socketPath];
      if (runtime === undefined) throw Object.assign(new Error(`connect ENOENT ${socketPath}`), { code: 'ENOENT' });
      return runtime;
    },
    serviceStartTimeoutMs: 500,
    procRoot,
    sendSignal: (pid, signal) => {
      options.signals?.push([pid, signal]);
      void rm(join(procRoot, String(pid)), { recursive: true, force: true });
    },
  };
}

/** Makes the fake /proc say that `pid` is `podman system service` for our socket. */
async function fakePodmanProcess(pid: number): Promise<void> {
  await mkdir(join(procRoot, String(pid)));
  const argv = ['/usr/bin/podman', 'system', 'service', '--time=0', `unix://${join(runDir, 'podman.sock')}`];
  await writeFile(join(procRoot, String(pid), 'cmdline'), argv.join('\0') + '\0');
}

describe('detectRuntime', () => {
  it('says why each strategy passed when nothing is there', async () => {
    const error = await detectRuntime({ preference: 'auto' }, machine({})).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'RUNTIME_NOT_FOUND' });
    const attempts = (error as { details: { attempts: { strategy: string; found: boolean; detail: string }[] } }).details.attempts;
    expect(attempts.map((a) => [a.strategy, a.found])).toEqual([
      ['apple', false],
      ['podman', false],
      ['docker', false],
    ]);
    expect(attempts[0]?.detail).toMatch(/only on macOS/);
    expect(attempts[1]?.detail).toMatch(/podman is not on PATH/);
    expect(attempts[2]?.detail).toMatch(/docker\.sock/);
  });

  it('picks Apple Containers first on a Mac whose services run', async () => {
    const executor = new FakeExecutor().on('system status', ok('apiserver is running'));
    const found = await detectRuntime({ preference: 'auto' }, machine({ platform: 'darwin', programs: { container: '/usr/local/bin/container' }, executor }));
    expect(found.runtime.kind).toBe('apple');
    expect(found.attempts).toEqual([{ strategy: 'apple', found: true, detail: '/usr/local/bin/container' }]);
  });

  it('tells how to start Apple Containers when its services are down, and moves on', async () => {
    const executor = new FakeExecutor().on('system status', failed('apiserver is not running'));
    const docker = new FakeRuntime('docker');
    const found = await detectRuntime(
      { preference: 'auto' },
      machine({ platform: 'darwin', programs: { container: '/usr/local/bin/container' }, executor, sockets: { '/var/run/docker.sock': docker } }),
    );
    expect(found.runtime).toBe(docker);
    expect(found.attempts[0]?.detail).toMatch(/container system start/);
  });

  it('uses CONTAINER_HOST before the well-known sockets', async () => {
    const podman = new FakeRuntime('podman');
    const found = await detectRuntime(
      { preference: 'auto' },
      machine({ env: { CONTAINER_HOST: 'unix:///custom/podman.sock' }, sockets: { '/custom/podman.sock': podman, '/run/podman/podman.sock': new FakeRuntime() } }),
    );
    expect(found.runtime).toBe(podman);
    expect(found.attempts.at(-1)).toEqual({ strategy: 'podman', found: true, detail: '/custom/podman.sock' });
  });

  it('notes a non-unix CONTAINER_HOST and tries the rootless socket', async () => {
    const rootless = new FakeRuntime('podman');
    const found = await detectRuntime(
      { preference: 'podman' },
      machine({ env: { CONTAINER_HOST: 'ssh://core@host/run/podman.sock', XDG_RUNTIME_DIR: '/run/user/1000' }, sockets: { '/run/user/1000/podman/podman.sock': rootless } }),
    );
    expect(found.runtime).toBe(rootless);
  });

  it('starts podman system service as the current user when podman is installed but silent, and stops it by PID', async () => {
    const executor = new FakeExecutor();
    executor.nextPid = 31337;
    await fakePodmanProcess(31337);
    const signals: [number, string][] = [];
    const socketPath = join(runDir, 'podman.sock');
    const started = new FakeRuntime('podman');
    const context = machine({ programs: { podman: '/usr/bin/podman' }, executor, signals });
    let answering = false;
    const found = await detectRuntime(
      { preference: 'podman' },
      {
        ...context,
        connectSocket: async (path) => {
          // The service answers from the second probe on, as a real one does after a moment.
          if (path === socketPath && answering) return started;
          answering = path === socketPath;
          throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        },
      },
    );
    expect(executor.detached).toEqual([{ file: '/usr/bin/podman', args: ['system', 'service', '--time=0', `unix://${socketPath}`] }]);
    expect(await readFile(join(runDir, 'podman-service.pid'), 'utf8')).toBe('31337\n');
    expect(found.runtime).toBe(started);
    expect(found.startedService?.pid).toBe(31337);

    expect(await found.startedService?.stop()).toEqual({ stopped: true });
    expect(signals).toEqual([[31337, 'SIGTERM']]);
  });

  it('says exactly what to run when the service it started never answers', async () => {
    const executor = new FakeExecutor(); // the fake /proc has no such process: it "exited" at once
    const error = await detectRuntime({ preference: 'podman' }, machine({ programs: { podman: '/usr/bin/podman' }, executor })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'RUNTIME_NOT_FOUND' });
    expect((error as Error).message).toContain(`podman system service --time=0 unix://${join(runDir, 'podman.sock')} &`);
  });

  it('uses DOCKER_HOST only when it is a unix socket', async () => {
    const docker = new FakeRuntime('docker');
    const found = await detectRuntime({ preference: 'docker' }, machine({ env: { DOCKER_HOST: 'unix:///srv/docker.sock' }, sockets: { '/srv/docker.sock': docker } }));
    expect(found.runtime).toBe(docker);
    const refused = await detectRuntime({ preference: 'docker' }, machine({ env: { DOCKER_HOST: 'tcp://10.0.0.2:2375' } })).catch((e: unknown) => e);
    expect((refused as Error).message).toMatch(/not a unix socket/);
  });

  it('tries only the configured socket, and refuses one that is not the configured runtime', async () => {
    const podman = new FakeRuntime('podman');
    const context = machine({ sockets: { '/x.sock': podman, '/var/run/docker.sock': new FakeRuntime('docker') } });
    expect((await detectRuntime({ preference: 'auto', socketPath: '/x.sock' }, context)).runtime).toBe(podman);
    const error = await detectRuntime({ preference: 'docker', socketPath: '/x.sock' }, context).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'RUNTIME_NOT_FOUND' });
    expect((error as Error).message).toMatch(/answers as podman/);
    expect(podman.disposed).toBe(true);
  });

  it('honours a preference by skipping the other runtimes entirely', async () => {
    const executor = new FakeExecutor().on('system status', ok());
    const docker = new FakeRuntime('docker');
    const found = await detectRuntime(
      { preference: 'docker' },
      machine({ platform: 'darwin', programs: { container: '/bin/container' }, executor, sockets: { '/var/run/docker.sock': docker } }),
    );
    expect(found.attempts.map((attempt) => attempt.strategy)).toEqual(['docker']);
    expect(executor.calls).toEqual([]);
  });
});
