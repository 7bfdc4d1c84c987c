import { verifyHardenedSpec, type HardenedSpec } from '../../core/container-spec.js';
import { CarapaceError } from '../../errors.js';

const MIB = 1024 * 1024;

/**
 * What the `container` CLI (apple/container 1.0: `--read-only`, `--network none`, `--cap-drop`,
 * `--ulimit`) cannot express of the hardened spec. Each VM-backed container runs its own kernel, which
 * is why these gaps weigh less than they would with shared-kernel namespaces, but they are real.
 */
export const APPLE_LIMITATIONS: readonly string[] = [
  'no-new-privileges cannot be set: the container CLI has no such flag (proposed in apple/container#2161)',
  'no pids cgroup limit: the CLI exposes none; the process count is bounded with RLIMIT_NPROC inside the container VM',
  'CPU is allocated in whole virtual CPUs: a fractional limit is rounded up to the next whole CPU',
  'memory is allocated in whole MiB: the limit is rounded down',
  '--tmpfs takes only a path: the /tmp size cap and noexec,nosuid,nodev options cannot be passed',
  'the socket directory is shared into the VM over virtiofs; a unix socket bound on the host is not reachable through it (not verified on a Mac)',
  'mount options (ro for the socket directory; nosuid,nodev,noexec for storage) are passed as --volume options, which the guest applies as mount flags according to apple/container and containerization sources (not verified on a Mac)',
];

/**
 * Builds `container create` arguments for a hardened spec. Pure: the adapter runs them through an
 * injected executor, so tests assert the exact argv without a Mac. Flags that do not exist in the CLI
 * are left out and listed in `APPLE_LIMITATIONS`, never approximated by something that looks alike.
 */
export function toAppleCreateArgs(spec: HardenedSpec): string[] {
  verifyHardenedSpec(spec);
  const storage = spec.storageMount;
  const labels = Object.entries(spec.labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .flatMap(([key, value]) => ['--label', `${key}=${value}`]);
  return [
    'create',
    '--name',
    spec.name,
    '--read-only',
    '--network',
    'none',
    // With no network there is no resolver to configure, and a read-only root cannot take resolv.conf.
    '--no-dns',
    '--cap-drop',
    'ALL',
    '--user',
    spec.user,
    '--memory',
    `${String(Math.max(1, Math.floor(spec.limits.memoryBytes / MIB)))}M`,
    '--cpus',
    String(Math.max(1, Math.ceil(spec.limits.nanoCpus / 1e9))),
    '--ulimit',
    `nofile=${String(spec.nofile)}:${String(spec.nofile)}`,
    // One VM per container: only this container's processes run as its uid, so NPROC bounds it alone.
    '--ulimit',
    `nproc=${String(spec.limits.pids)}:${String(spec.limits.pids)}`,
    '--tmpfs',
    spec.tmpfs.target,
    '--volume',
    `${verifiedVolumeSource(spec.socketMount.source)}:${spec.socketMount.target}:ro`,
    ...(storage === undefined ? [] : ['--volume', `${verifiedVolumeSource(storage.source)}:${storage.target}:${storage.options}`]),
    ...labels,
    '--interactive',
    spec.image,
    ...(spec.command ?? []),
  ];
}

/** `--volume` is parsed as `source:target:options`: a ':' or ',' in the host path could add a target or an option. */
function verifiedVolumeSource(source: string): string {
  if (!source.startsWith('/') || /[:,\n\0]/.test(source)) {
    throw new CarapaceError('SPEC_VIOLATION', `host directory path cannot be mounted safely: ${JSON.stringify(source)}`);
  }
  return source;
}
