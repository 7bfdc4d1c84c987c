import { LABEL_HOME, LABEL_MANAGED } from '../core/container-spec.js';
import { CarapaceError } from '../errors.js';
import type { ContainerRuntime } from './container-runtime.js';

/**
 * Removes every container carrying all of `labels`: the daemon calls it at start with
 * `homeLabels(home)` (core/container-labels.ts) to clear containers a crashed run left behind. The filter must name a
 * home, so a bug that passed `{}` cannot remove every container on the machine, or another home's.
 * Tries every container, then throws if any removal failed (a live orphan is not ignored).
 */
export async function removeContainers(runtime: ContainerRuntime, labels: Readonly<Record<string, string>>): Promise<string[]> {
  if (labels[LABEL_MANAGED] !== 'true' || (labels[LABEL_HOME] ?? '') === '') {
    throw new CarapaceError('INTERNAL', `refusing to remove containers without both ${LABEL_MANAGED} and ${LABEL_HOME} in the filter`);
  }
  const found = await runtime.list(labels);
  const results = await Promise.allSettled(found.map(async (container) => runtime.remove(container.id)));
  const failures = found.flatMap((container, index) => {
    const result = results[index];
    return result?.status === 'rejected' ? [{ id: container.id, reason: String(result.reason) }] : [];
  });
  if (failures.length > 0) {
    throw new CarapaceError('RUNTIME_REQUEST_FAILED', `could not remove ${String(failures.length)} leftover container(s)`, {
      details: { failures },
      cause: results.find((result) => result.status === 'rejected')?.reason,
    });
  }
  return found.map((container) => container.id);
}
