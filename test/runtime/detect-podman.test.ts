import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectRuntime, systemDetectionContext } from '../../src/runtime/detect-runtime.js';
import { isOurPodmanService } from '../../src/runtime/podman-service.js';
import { connectTestPodman } from '../support/podman-test-runtime.js';

/** Detection on this machine, including the branch where Carapace starts Podman's API service itself. */

let runDir: string;

beforeEach(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'carapace-det-'));
});

afterEach(async () => {
  await rm(runDir, { recursive: true, force: true });
});

describe('detectRuntime against real Podman', () => {
  it('finds the configured socket and tells Podman from Docker by its answer', async () => {
    const { socketPath } = await connectTestPodman();
    const found = await detectRuntime({ preference: 'auto', socketPath }, systemDetectionContext(runDir));
    expect(found.runtime.kind).toBe('podman');
    expect(await found.runtime.describe()).toMatchObject({ kind: 'podman', isolation: 'rootful-namespaces', endpoint: socketPath });
  });

  it('starts podman system service when no socket answers, and stops exactly that process', async () => {
    const system = systemDetectionContext(runDir);
    const ownSocket = join(runDir, 'podman.sock');
    // This machine may have other sockets up; pretend only ours can exist, to take the start branch.
    const found = await detectRuntime(
      { preference: 'podman' },
      {
        ...system,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
        connectSocket: async (path) => {
          if (path !== ownSocket) throw Object.assign(new Error(`connect ENOENT ${path}`), { code: 'ENOENT' });
          return system.connectSocket(path);
        },
      },
    );
    const service = found.startedService;
    expect(service).toBeDefined();
    if (service === undefined) return;
    try {
      expect(found.attempts.at(-1)).toEqual({ strategy: 'podman', found: true, detail: ownSocket });
      expect(await isOurPodmanService(service.pid, ownSocket)).toBe(true);
      expect((await found.runtime.describe()).kind).toBe('podman');
    } finally {
      await found.runtime[Symbol.asyncDispose]();
      expect(await service.stop()).toEqual({ stopped: true });
    }
    expect(await isOurPodmanService(service.pid, ownSocket)).toBe(false);
    await expect(access(ownSocket)).rejects.toThrow();
  });
});
