import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeExecutor } from '../../test/support/fake-executor.js';
import { isOurPodmanService, startPodmanService, stopPodmanService } from './podman-service.js';

let runDir: string;

beforeEach(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'carapace-svc-'));
});

afterEach(async () => {
  await rm(runDir, { recursive: true, force: true });
});

describe('stopPodmanService', () => {
  it('never signals a PID that is not our podman service (a reused PID or an edited file)', async () => {
    const bystander = spawn('sleep', ['30'], { stdio: 'ignore' });
    const pid = bystander.pid ?? 0;
    try {
      await writeFile(join(runDir, 'podman-service.pid'), `${String(pid)}\n`);
      const signals: number[] = [];
      const result = await stopPodmanService(runDir, { sendSignal: (target) => signals.push(target) });
      expect(result).toMatchObject({ stopped: false });
      expect(signals).toEqual([]);
      expect(bystander.exitCode).toBeNull();
      await expect(readFile(join(runDir, 'podman-service.pid'))).rejects.toThrow();
    } finally {
      bystander.kill('SIGKILL');
    }
  });

  it('ignores a PID file that does not hold a plain PID', async () => {
    await writeFile(join(runDir, 'podman-service.pid'), '1; rm -rf /\n');
    await expect(stopPodmanService(runDir)).resolves.toMatchObject({ stopped: false });
    await writeFile(join(runDir, 'podman-service.pid'), '1\n');
    await expect(stopPodmanService(runDir)).resolves.toMatchObject({ stopped: false });
  });

  it('has nothing to do without a PID file', async () => {
    await expect(stopPodmanService(runDir)).resolves.toEqual({ stopped: false, reason: 'no service recorded' });
  });
});

describe('isOurPodmanService', () => {
  it('is false for this very process and for a PID that does not exist', async () => {
    expect(await isOurPodmanService(process.pid, join(runDir, 'podman.sock'))).toBe(false);
    expect(await isOurPodmanService(2 ** 22 + 7, join(runDir, 'podman.sock'))).toBe(false);
  });
});

describe('startPodmanService', () => {
  it('refuses a run directory whose socket path a unix socket cannot hold', async () => {
    const deep = join(runDir, 'x'.repeat(120));
    await expect(
      startPodmanService({ runDir: deep, podmanPath: '/usr/bin/podman', executor: new FakeExecutor(), probe: async () => undefined }),
    ).rejects.toMatchObject({ code: 'RUNTIME_UNAVAILABLE' });
  });
});
