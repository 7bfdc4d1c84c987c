import { CarapaceError } from '../errors.js';

/**
 * The hardened run spec: what every plugin container gets, whatever its manifest says.
 * Security-relevant fields are literal types, so a caller cannot even express a looser container;
 * `verifyHardenedSpec` re-checks the values at run time for specs that crossed an `any` boundary.
 */

/** The unprivileged user every container runs as (not root, not a user the image chose). */
export const CONTAINER_USER = '10001:10001';
export const CONTAINER_UID = 10001;
export const CONTAINER_GID = 10001;

/** Where the per-container socket directory appears inside the container (read-only). */
export const SOCKET_MOUNT_TARGET = '/run/carapace';
/** Where a plugin's persistent storage directory appears inside the container. */
export const STORAGE_MOUNT_TARGET = '/data';
/**
 * The storage mount is the one writable host directory a container may have, so nothing in it may
 * act as more than data: no setuid binaries, no device nodes, nothing executable.
 */
export const STORAGE_MOUNT_OPTIONS = 'rw,nosuid,nodev,noexec';

export const LABEL_MANAGED = 'io.carapace.managed';
/** Which Carapace home started the container, so two homes never remove each other's containers. */
export const LABEL_HOME = 'io.carapace.home';
export const LABEL_ROLE = 'io.carapace.role';

export interface ResourceLimits {
  /** Maximum number of processes and threads. */
  readonly pids: number;
  readonly memoryBytes: number;
  /** CPU quota in billionths of a CPU (Docker's NanoCpus): 1e9 is one core. */
  readonly nanoCpus: number;
}

/** The ceilings: a request may lower a limit, never raise it past these. */
export const MAX_LIMITS: ResourceLimits = {
  pids: 256,
  memoryBytes: 512 * 1024 * 1024,
  nanoCpus: 1_000_000_000,
};

export const DEFAULT_LIMITS: ResourceLimits = {
  pids: 64,
  memoryBytes: 256 * 1024 * 1024,
  nanoCpus: 500_000_000,
};

export const TMPFS_SIZE_BYTES = 16 * 1024 * 1024;
/** Per-process open-file limit; also keeps runtimes within rlimits an unprivileged VM allows. */
export const NOFILE_LIMIT = 1024;

export interface HardenedSpec {
  readonly name: string;
  readonly image: string;
  readonly command: readonly string[] | undefined;
  readonly user: typeof CONTAINER_USER;
  readonly readOnlyRootfs: true;
  readonly network: 'none';
  readonly capDrop: readonly ['ALL'];
  readonly noNewPrivileges: true;
  readonly privileged: false;
  readonly limits: ResourceLimits;
  readonly nofile: number;
  readonly tmpfs: { readonly target: '/tmp'; readonly sizeBytes: number; readonly options: 'rw,noexec,nosuid,nodev' };
  /**
   * A 0700 directory on the host holding this container's ipc socket, mounted read-only: connecting
   * to a unix socket needs no write access to its directory (EROFS applies to creating files, not to
   * connect), and a read-only mount leaves the container no way to replace or add a socket there.
   */
  readonly socketMount: { readonly source: string; readonly target: typeof SOCKET_MOUNT_TARGET; readonly readOnly: true };
  /** The plugin's persistent storage, when it asked for one: the only writable bind mount there is. */
  readonly storageMount: StorageMount | undefined;
  /** Always empty: the host environment never reaches a container; credentials come over stdin. */
  readonly env: readonly [];
  /** Stdin stays open until the core has written the start message (credentials), then closes. */
  readonly openStdin: true;
  readonly labels: Readonly<Record<string, string>>;
}

export interface StorageMount {
  readonly source: string;
  readonly target: typeof STORAGE_MOUNT_TARGET;
  readonly options: typeof STORAGE_MOUNT_OPTIONS;
}

export interface ContainerRequest {
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  /** Absolute host path of the container's socket directory. */
  readonly socketDir: string;
  /**
   * Absolute host path of the plugin's persistent storage directory, mounted read-write at `/data`.
   * It must not contain, or lie inside, the socket directory.
   */
  readonly storageDir?: string;
  readonly limits?: Partial<ResourceLimits>;
  readonly labels: Readonly<Record<string, string>>;
}

const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const LABEL_KEY_PATTERN = /^[a-z0-9][a-z0-9._-]{0,127}$/;

/** Builds the spec for a request; the request can only name things and lower limits. */
export function toHardenedSpec(request: ContainerRequest): HardenedSpec {
  if (!NAME_PATTERN.test(request.name)) {
    throw new CarapaceError('SPEC_VIOLATION', `container name ${JSON.stringify(request.name)} is not allowed`);
  }
  const mountProblems = hostDirectoryProblems(request.socketDir, request.storageDir);
  if (mountProblems.length > 0) {
    throw new CarapaceError('SPEC_VIOLATION', `host directories cannot be mounted: ${mountProblems.join('; ')}`, {
      details: { problems: mountProblems },
    });
  }
  for (const key of Object.keys(request.labels)) {
    if (!LABEL_KEY_PATTERN.test(key)) {
      throw new CarapaceError('SPEC_VIOLATION', `label key ${JSON.stringify(key)} is not allowed`);
    }
  }
  return {
    name: request.name,
    image: request.image,
    command: request.command === undefined ? undefined : [...request.command],
    user: CONTAINER_USER,
    readOnlyRootfs: true,
    network: 'none',
    capDrop: ['ALL'],
    noNewPrivileges: true,
    privileged: false,
    limits: clampLimits(request.limits ?? {}),
    nofile: NOFILE_LIMIT,
    tmpfs: { target: '/tmp', sizeBytes: TMPFS_SIZE_BYTES, options: 'rw,noexec,nosuid,nodev' },
    socketMount: { source: request.socketDir, target: SOCKET_MOUNT_TARGET, readOnly: true },
    storageMount:
      request.storageDir === undefined
        ? undefined
        : { source: request.storageDir, target: STORAGE_MOUNT_TARGET, options: STORAGE_MOUNT_OPTIONS },
    env: [],
    openStdin: true,
    labels: { ...request.labels, [LABEL_MANAGED]: 'true' },
  };
}

function clampLimits(requested: Partial<ResourceLimits>): ResourceLimits {
  const pick = (key: keyof ResourceLimits): number => {
    const value = requested[key] ?? DEFAULT_LIMITS[key];
    if (!Number.isInteger(value) || value <= 0) {
      throw new CarapaceError('SPEC_VIOLATION', `limit ${key} must be a positive integer, got ${String(value)}`);
    }
    return Math.min(value, MAX_LIMITS[key]);
  };
  return { pids: pick('pids'), memoryBytes: pick('memoryBytes'), nanoCpus: pick('nanoCpus') };
}

/**
 * Re-checks a spec at the adapter boundary. A spec built by `toHardenedSpec` always passes; one that
 * was assembled by hand or mutated through a cast (a bug, or an attack through some generic path) does not.
 */
export function verifyHardenedSpec(spec: HardenedSpec): void {
  const problems: string[] = [];
  const loose = spec as unknown as Record<string, unknown>;
  if (loose['readOnlyRootfs'] !== true) problems.push('root filesystem is not read-only');
  if (loose['network'] !== 'none') problems.push('network is not none');
  if (!(Array.isArray(spec.capDrop) && spec.capDrop.length === 1 && spec.capDrop[0] === 'ALL')) {
    problems.push('capabilities are not all dropped');
  }
  if (loose['noNewPrivileges'] !== true) problems.push('no-new-privileges is off');
  if (loose['privileged'] !== false) problems.push('container is privileged');
  if (spec.user !== CONTAINER_USER) problems.push(`user is ${String(spec.user)}, not ${CONTAINER_USER}`);
  if (!Array.isArray(spec.env) || spec.env.length !== 0) problems.push('environment is not empty');
  if (spec.socketMount.target !== SOCKET_MOUNT_TARGET) problems.push('socket mount target moved');
  if ((spec.socketMount as { readOnly?: unknown }).readOnly !== true) problems.push('socket mount is writable');
  problems.push(...storageMountProblems(loose['storageMount']));
  problems.push(...hostDirectoryProblems(spec.socketMount.source, spec.storageMount?.source));
  for (const key of ['pids', 'memoryBytes', 'nanoCpus'] as const) {
    const value = spec.limits[key];
    if (!Number.isInteger(value) || value <= 0 || value > MAX_LIMITS[key]) problems.push(`limit ${key} is out of bounds`);
  }
  if (spec.tmpfs.options !== 'rw,noexec,nosuid,nodev') problems.push('tmpfs options loosened');
  if (problems.length > 0) {
    throw new CarapaceError('SPEC_VIOLATION', `hardened spec violated: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
}

function storageMountProblems(storage: unknown): string[] {
  if (storage === undefined) return [];
  if (typeof storage !== 'object' || storage === null) return ['storage mount is malformed'];
  const mount = storage as Record<string, unknown>;
  const problems: string[] = [];
  if (mount['target'] !== STORAGE_MOUNT_TARGET) problems.push('storage mount target moved');
  if (mount['options'] !== STORAGE_MOUNT_OPTIONS) problems.push('storage mount options loosened');
  if (typeof mount['source'] !== 'string') problems.push('storage mount has no source');
  return problems;
}

/**
 * The host directories must be plain absolute paths (no `.`/`..` segments that would make the overlap
 * check below compare the wrong strings) and must not nest: a socket directory inside the writable
 * storage directory would let the container replace the socket the core listens on.
 */
function hostDirectoryProblems(socketDir: string, storageDir: string | undefined): string[] {
  const problems: string[] = [];
  if (!isNormalAbsolutePath(socketDir)) problems.push(`socket directory ${JSON.stringify(socketDir)} is not a normal absolute path`);
  if (storageDir === undefined) return problems;
  if (!isNormalAbsolutePath(storageDir)) {
    problems.push(`storage directory ${JSON.stringify(storageDir)} is not a normal absolute path`);
  } else if (isWithin(storageDir, socketDir) || isWithin(socketDir, storageDir)) {
    problems.push('storage and socket directories overlap');
  }
  return problems;
}

function isNormalAbsolutePath(path: string): boolean {
  if (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0')) return false;
  if (path === '/') return true;
  return path
    .slice(1)
    .split('/')
    .every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

/** Whether `path` is `dir` or lies below it; both are normal absolute paths. */
function isWithin(dir: string, path: string): boolean {
  return dir === '/' || path === dir || path.startsWith(`${dir}/`);
}
