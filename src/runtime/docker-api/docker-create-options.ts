import type { ContainerCreateOptions } from 'dockerode';
import { verifyHardenedSpec, type HardenedSpec } from '../../core/container-spec.js';
import { CarapaceError } from '../../errors.js';

/**
 * RLIMIT_NPROC counts every process of the container's uid in its user namespace, so with rootful
 * runtimes it is shared by all plugin containers (all run as 10001): a per-container value would let
 * one plugin starve the others of forks. It is a host-wide ceiling; the per-container bound is PidsLimit.
 */
export const NPROC_CEILING = 4096;

/**
 * Podman's compat API always adds writable, exec-allowed tmpfs mounts on /run and /var/tmp to a
 * read-only container (`--read-only-tmpfs`, not settable through this API). A payload dropped there
 * could be executed, defeating the noexec /tmp. We shadow both with empty read-only noexec tmpfs
 * mounts; on Docker these paths were read-only already, so the result is the same on both.
 */
const READ_ONLY_SHADOW_TMPFS = 'ro,noexec,nosuid,nodev,size=1m';

/** Which engine serves the Docker-compatible API; they differ in the bind options they accept. */
export type DockerApiEngine = 'podman' | 'docker';

/**
 * What Docker's API cannot express of the hardened spec (measured with Docker 20.10.24): a `Binds`
 * entry takes only ro/rw, SELinux and propagation modes ("invalid mode: rw,nosuid,nodev,noexec"),
 * `Mounts` has no noexec for binds, and a local-driver volume with `o=bind,noexec` mounts without
 * noexec. A writable storage directory that can hold an executable is refused instead.
 */
export const DOCKER_LIMITATIONS: readonly string[] = [
  'no persistent storage: Docker cannot mount a host directory noexec,nosuid,nodev, so plugins that need /data are refused',
];

/**
 * Translates a hardened spec into Docker Engine API create options (served by Docker and by Podman's
 * compat API). Pure: it decides nothing, it re-checks the spec and spells it out.
 */
export function toDockerCreateOptions(spec: HardenedSpec, engine: DockerApiEngine): ContainerCreateOptions {
  verifyHardenedSpec(spec);
  return {
    name: spec.name,
    Image: spec.image,
    ...(spec.command === undefined ? {} : { Cmd: [...spec.command] }),
    User: spec.user,
    // An explicit empty list: the host environment never reaches a plugin.
    Env: [],
    Labels: { ...spec.labels },
    Tty: false,
    // Stdin stays open until the core has written the start message, then EOF; nothing else attaches.
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    // No grace period on removal: a plugin is told to stop over its socket, not by SIGTERM.
    StopTimeout: 0,
    HostConfig: {
      ReadonlyRootfs: true,
      NetworkMode: 'none',
      CapDrop: ['ALL'],
      CapAdd: [],
      SecurityOpt: ['no-new-privileges'],
      Privileged: false,
      PidsLimit: spec.limits.pids,
      Memory: spec.limits.memoryBytes,
      // Equal to Memory: no swap on top, so the memory limit is the whole budget.
      MemorySwap: spec.limits.memoryBytes,
      NanoCpus: spec.limits.nanoCpus,
      Ulimits: [
        { Name: 'nofile', Soft: spec.nofile, Hard: spec.nofile },
        { Name: 'nproc', Soft: NPROC_CEILING, Hard: NPROC_CEILING },
      ],
      Tmpfs: {
        [spec.tmpfs.target]: `${spec.tmpfs.options},size=${String(spec.tmpfs.sizeBytes)}`,
        '/run': READ_ONLY_SHADOW_TMPFS,
        '/var/tmp': READ_ONLY_SHADOW_TMPFS,
      },
      Binds: toBinds(spec, engine),
      AutoRemove: false,
      RestartPolicy: { Name: 'no' },
    },
  };
}

/**
 * The socket directory read-only, and the storage directory with its options. Podman takes mount
 * options in `Binds` (`rw,nosuid,nodev,noexec`) and applies them; Docker rejects them, see
 * `DOCKER_LIMITATIONS`.
 */
function toBinds(spec: HardenedSpec, engine: DockerApiEngine): string[] {
  const binds = [`${verifiedBindSource(spec.socketMount.source)}:${spec.socketMount.target}:ro`];
  const storage = spec.storageMount;
  if (storage !== undefined) {
    if (engine !== 'podman') {
      throw new CarapaceError('RUNTIME_UNSUPPORTED', `${engine} cannot mount the storage directory ${storage.options}`, {
        details: { storageDir: storage.source, options: storage.options },
      });
    }
    binds.push(`${verifiedBindSource(storage.source)}:${storage.target}:${storage.options}`);
  }
  return binds;
}

/**
 * The bind is written as `source:target:options` (and Podman rewrites it to comma-separated options),
 * so a ':' or ',' in the host path could smuggle in a second target or mount option.
 */
function verifiedBindSource(source: string): string {
  if (!source.startsWith('/') || /[:,\n\0]/.test(source)) {
    throw new CarapaceError('SPEC_VIOLATION', `host directory path cannot be bind-mounted safely: ${JSON.stringify(source)}`);
  }
  return source;
}
