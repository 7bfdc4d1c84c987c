import type { HomeLayout } from '../config/carapace-home.js';
import { homeLabels } from '../core/container-labels.js';
import type { Logger } from '../logging/logger.js';
import type { ContainerRuntime, RuntimeDescription } from '../runtime/container-runtime.js';
import { removeContainers } from '../runtime/remove-containers.js';
import { acquirePidLock, type CoreRecord } from './pid-lock.js';

export interface CoreDependencies {
  readonly layout: HomeLayout;
  /** Finds (and if needed starts) a container runtime; detection lives outside the core. */
  readonly findRuntime: () => Promise<ContainerRuntime>;
  readonly log: Logger;
  readonly now?: () => Date;
}

/** A core that holds its home's lock. Stopping removes its containers and releases the lock. */
export interface RunningCore extends AsyncDisposable {
  readonly record: CoreRecord;
  readonly runtime: RuntimeDescription;
  /** Ids of containers a previous core left behind and this start removed. */
  readonly orphansRemoved: readonly string[];
  stop(): Promise<void>;
}

/**
 * Starts the core: one per home (pid lock), on a runtime found before the lock is taken, and with
 * every container labelled for this home removed first. Holding the lock proves no other core owns
 * them, so they can only be orphans of a core that was killed.
 */
export async function startCore(deps: CoreDependencies): Promise<RunningCore> {
  const now = deps.now ?? (() => new Date());
  const runtime = await deps.findRuntime();
  const description = await runtime.describe();
  const lock = await acquirePidLock(deps.layout.pidFile, {
    pid: process.pid,
    startedAt: now().toISOString(),
    runtime: `${description.kind} ${description.version}`,
  });
  const labels = homeLabels(deps.layout.home);
  let orphansRemoved: string[];
  try {
    orphansRemoved = await removeContainers(runtime, labels);
  } catch (error) {
    await lock.release();
    await runtime[Symbol.asyncDispose]();
    throw error;
  }
  if (orphansRemoved.length > 0) deps.log.warn({ containers: orphansRemoved }, 'removed containers left by a previous core');
  deps.log.info({ pid: process.pid, runtime: description }, 'core started');

  // Until stop, the core keeps its process alive by itself: a foreground core waiting only on a
  // signal would otherwise leave Node's event loop empty, and Node would exit mid-await.
  const keepAlive = setInterval(() => undefined, 2 ** 31 - 1);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(keepAlive);
      try {
        await removeContainers(runtime, labels);
      } finally {
        await lock.release();
        await runtime[Symbol.asyncDispose]();
        deps.log.info({ pid: process.pid }, 'core stopped');
      }
    })();
    return stopping;
  };
  return { record: lock.record, runtime: description, orphansRemoved, stop, [Symbol.asyncDispose]: stop };
}
