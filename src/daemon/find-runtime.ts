import type { HomeLayout } from '../config/carapace-home.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { detectRuntime, systemDetectionContext } from '../runtime/detect-runtime.js';
import type { CarapaceConfig } from '../wire/config.js';

export interface SkippedStrategy {
  readonly strategy: string;
  readonly reason: string;
}

/** The runtime detection chose, and every strategy it passed over with the reason (doctor prints them). */
export interface RuntimeSearch {
  readonly runtime: ContainerRuntime;
  readonly skipped: readonly SkippedStrategy[];
}

/**
 * Detects the runtime config.toml asks for. A Podman API service that detection has to start runs
 * in this home's run directory and outlives the command, like a socket-activated service would;
 * its PID is recorded there so it can be stopped exactly.
 */
export async function searchConfiguredRuntime(
  layout: HomeLayout,
  config: CarapaceConfig,
  env: Readonly<Record<string, string | undefined>>,
): Promise<RuntimeSearch> {
  const setting = {
    preference: config.runtime.preference,
    ...(config.runtime.socket === undefined ? {} : { socketPath: config.runtime.socket }),
  };
  const detected = await detectRuntime(setting, { ...systemDetectionContext(layout.run), env });
  const skipped = detected.attempts.filter((attempt) => !attempt.found).map((attempt) => ({ strategy: attempt.strategy, reason: attempt.detail }));
  return { runtime: detected.runtime, skipped };
}

export async function findConfiguredRuntime(
  layout: HomeLayout,
  config: CarapaceConfig,
  env: Readonly<Record<string, string | undefined>>,
): Promise<ContainerRuntime> {
  return (await searchConfiguredRuntime(layout, config, env)).runtime;
}
