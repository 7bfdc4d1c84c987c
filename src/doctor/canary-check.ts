import { randomBytes } from 'node:crypto';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { HomeLayout } from '../config/carapace-home.js';
import { parseCanaryReport, type CanaryFinding, type CanaryReport } from '../core/canary-report.js';
import { containerLabels } from '../core/container-labels.js';
import { checkContainerAgainstSpec, type PropertyCheck } from '../core/container-observation.js';
import { CONTAINER_GID, CONTAINER_UID, toHardenedSpec } from '../core/container-spec.js';
import { toCarapaceError } from '../errors.js';
import { canaryImageDefinition, canaryProbeCommand } from '../images/canary-image.js';
import { ensureImage } from '../images/ensure-image.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { fail, pass, type CheckLine } from './check-line.js';

const CANARY_TIMEOUT_MS = 30_000;

/**
 * Starts a canary container with the hardened spec and checks it from both sides: the runtime's
 * own inspect output against the spec, and what the canary could do from inside (write its root
 * filesystem, reach a listener on the host's loopback, see a variable set in the host process).
 * A property passes only when both sides agree it is enforced.
 */
export async function runCanaryChecks(runtime: ContainerRuntime, layout: HomeLayout): Promise<CheckLine[]> {
  const image = await ensureImage(runtime, canaryImageDefinition(), { workDir: layout.run });
  const suffix = randomBytes(4).toString('hex');
  const sentinel = `CARAPACE_CANARY_SENTINEL_${suffix.toUpperCase()}`;
  await using listener = await listenOnLoopback();
  await using socketDir = await containerSocketDir(layout.sockets);
  const spec = toHardenedSpec({
    name: `carapace-canary-${suffix}`,
    image: image.imageId,
    command: canaryProbeCommand({ connect: `127.0.0.1:${listener.port}`, sentinel }),
    socketDir: socketDir.path,
    labels: containerLabels(layout.home, 'canary'),
  });

  // A runtime that forwarded the host environment would forward this variable too.
  process.env[sentinel] = 'host-only';
  try {
    await using container = await runtime.start(spec);
    const exit = await container.wait({ timeoutMs: CANARY_TIMEOUT_MS });
    const observed = checkContainerAgainstSpec(spec, await runtime.inspect(container.id));
    return combineCanaryFindings(observed, parseCanaryReport(exit.stdout));
  } catch (error) {
    const reason = toCarapaceError(error, 'CONTAINER_START_FAILED', 'canary container failed');
    return [fail('Canary container', `${reason.message} [${reason.code}]`)];
  } finally {
    delete process.env[sentinel];
  }
}

/** Which inside-the-container probe corroborates which inspected property. */
const PROBED_PROPERTIES: Readonly<Record<string, keyof CanaryReport>> = {
  'Read-only filesystem': 'write',
  'Network isolation': 'network',
  'No host environment': 'environment',
};

/** One line per property; a probed property needs the runtime's report and the probe to agree. */
export function combineCanaryFindings(observed: readonly PropertyCheck[], report: CanaryReport): CheckLine[] {
  return observed.map((check) => {
    const probe = PROBED_PROPERTIES[check.property];
    const finding: CanaryFinding | undefined = probe === undefined ? undefined : report[probe];
    if (!check.ok) return fail(check.property, check.detail);
    if (finding !== undefined && !finding.refused) return fail(check.property, `canary probe: ${finding.detail}`);
    return pass(check.property, finding === undefined ? check.detail : 'enforced (inspected and probed)');
  });
}

interface LoopbackListener extends AsyncDisposable {
  readonly port: number;
}

/** A listener the canary must fail to reach; it accepts and drops connections, on loopback only. */
async function listenOnLoopback(): Promise<LoopbackListener> {
  const server: Server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { port, [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

interface TemporaryDir extends AsyncDisposable {
  readonly path: string;
}

/** The canary's socket directory: 0700 and, when we are root, owned by the container's user. */
async function containerSocketDir(parent: string): Promise<TemporaryDir> {
  const path = await mkdtemp(join(parent, 'canary-'));
  if (process.getuid?.() === 0) await chown(path, CONTAINER_UID, CONTAINER_GID);
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}
