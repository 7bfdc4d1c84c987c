import { ensureCarapaceHome, type HomeLayout } from '../config/carapace-home.js';
import type { RuntimeSearch } from '../daemon/find-runtime.js';
import { toCarapaceError } from '../errors.js';
import type { ContainerRuntime, IsolationLevel } from '../runtime/container-runtime.js';
import { runCanaryChecks } from './canary-check.js';
import { fail, info, pass, type CheckLine } from './check-line.js';
import { checkRevocationList, runSupplyChainChecks } from './supply-chain-checks.js';
import { checkNodeVersion, checkOwnerOnlyDirectory } from './system-checks.js';

export interface DoctorDependencies {
  readonly layout: HomeLayout;
  readonly nodeVersion: string;
  /** Runs runtime detection; every strategy tried is reported, the chosen one is used for the canary. */
  readonly findRuntime: () => Promise<RuntimeSearch>;
}

const ISOLATION: Readonly<Record<IsolationLevel, string>> = {
  'vm-per-container': 'a lightweight VM per container',
  'rootless-namespaces': 'rootless namespaces (no root daemon)',
  'rootful-namespaces': 'namespaces, containers started by root',
  'namespaces-root-daemon': 'namespaces with a root daemon',
};

/** Every check, in the order a person reads them; none throws, each failure is a FAIL line. */
export async function runDoctor(deps: DoctorDependencies): Promise<CheckLine[]> {
  const lines: CheckLine[] = [checkNodeVersion(deps.nodeVersion)];
  try {
    await ensureCarapaceHome(deps.layout.home);
    lines.push(pass('Carapace home', deps.layout.home));
  } catch (error) {
    lines.push(fail('Carapace home', describe(error)));
  }
  lines.push(await checkOwnerOnlyDirectory('Credential directory', deps.layout.credentials));
  lines.push(await checkOwnerOnlyDirectory('Socket directory', deps.layout.sockets));
  lines.push(await checkRevocationList(deps.layout));

  let search: RuntimeSearch;
  try {
    search = await deps.findRuntime();
  } catch (error) {
    return [...lines, fail('Container runtime', describe(error)), fail('Canary container', 'no container runtime to run it on')];
  }
  for (const attempt of search.skipped) lines.push(info(`Runtime ${attempt.strategy}`, `skipped: ${attempt.reason}`));
  await using runtime: ContainerRuntime = search.runtime;
  const description = await runtime.describe();
  lines.push(pass('Container runtime', `${description.kind} ${description.version} (${description.endpoint})`));
  lines.push(pass('Isolation', ISOLATION[description.isolation]));
  for (const limitation of description.limitations ?? []) lines.push(info('Runtime limitation', limitation));
  lines.push(...(await runSupplyChainChecks(runtime, deps.layout)));
  lines.push(...(await runCanaryChecks(runtime, deps.layout)));
  return lines;
}

function describe(error: unknown): string {
  const typed = toCarapaceError(error, 'INTERNAL', 'check failed');
  return `${typed.message} [${typed.code}]`;
}
