import { readFile } from 'node:fs/promises';

export const CONTAINERS_CONF = '/etc/containers/containers.conf';

/**
 * The settings /work/shared/ENVIRONMENT.md found necessary for Podman on CI-like VMs (crun fails on
 * hybrid cgroups, no systemd, root rlimits beyond what the VM allows). The project's set-up script
 * writes them; tests only check, never write /etc. Set CARAPACE_TEST_SKIP_CONTAINERS_CONF_CHECK=1 on a
 * machine whose Podman works without them.
 */
const REQUIRED: readonly [string, RegExp][] = [
  ['[engine] runtime = "runc"', /^\s*runtime\s*=\s*"runc"/m],
  ['[engine] cgroup_manager = "cgroupfs"', /^\s*cgroup_manager\s*=\s*"cgroupfs"/m],
  ['[engine] events_logger = "file"', /^\s*events_logger\s*=\s*"file"/m],
  ['[containers] default_ulimits with nofile and nproc', /^\s*default_ulimits\s*=.*nofile=.*nproc=/m],
];

/** Returns what is missing from containers.conf, or an empty list when it is all there. */
export async function missingContainersConfSettings(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  if (env['CARAPACE_TEST_SKIP_CONTAINERS_CONF_CHECK'] === '1') return [];
  const text = await readFile(CONTAINERS_CONF, 'utf8').catch(() => undefined);
  if (text === undefined) return [`${CONTAINERS_CONF} does not exist`];
  return REQUIRED.filter(([, pattern]) => !pattern.test(text)).map(([setting]) => setting);
}
