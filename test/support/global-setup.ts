import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { detectRuntime, systemDetectionContext } from '../../src/runtime/detect-runtime.js';
import { CONTAINERS_CONF, missingContainersConfSettings } from './containers-conf.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The Podman API socket acceptance tests use; empty when Podman is unavailable. */
    podmanSocket: string;
    /** Why Podman is unavailable; acceptance tests fail with this text instead of skipping. */
    podmanUnavailable: string;
  }
}

/**
 * Finds (or starts) one Podman API service for the whole run, with the same detection code the
 * daemon uses, and stops a service it started, by PID, at the end. Unit tests do not need it, so a
 * machine without Podman still runs them; acceptance tests then fail with the reason.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runDir = await mkdtemp(join(tmpdir(), 'carapace-test-run-'));
  const missing = await missingContainersConfSettings();
  if (missing.length > 0) {
    await rm(runDir, { recursive: true, force: true });
    project.provide('podmanSocket', '');
    project.provide(
      'podmanUnavailable',
      `${CONTAINERS_CONF} lacks settings Podman needs on this kind of VM (${missing.join('; ')}); run the project set-up script (see /work/shared/ENVIRONMENT.md)`,
    );
    return async () => undefined;
  }
  try {
    const detected = await detectRuntime({ preference: 'podman' }, systemDetectionContext(runDir));
    const { endpoint } = await detected.runtime.describe();
    await detected.runtime[Symbol.asyncDispose]();
    project.provide('podmanSocket', endpoint);
    project.provide('podmanUnavailable', '');
    return async () => {
      await detected.startedService?.stop();
      await rm(runDir, { recursive: true, force: true });
    };
  } catch (error) {
    await rm(runDir, { recursive: true, force: true });
    project.provide('podmanSocket', '');
    project.provide('podmanUnavailable', error instanceof Error ? error.message : String(error));
    return async () => undefined;
  }
}
