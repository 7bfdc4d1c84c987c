import { CONTAINER_USER, type HardenedSpec } from './container-spec.js';

/**
 * What a runtime reports about a live container, in Carapace's own terms. Adapters translate their
 * inspect output into this; the checks below never trust the spec we asked for, only what came back.
 */
export interface ContainerObservation {
  readonly id: string;
  readonly running: boolean;
  readonly readOnlyRootfs: boolean;
  readonly networkMode: string;
  readonly capDrop: readonly string[];
  readonly capAdd: readonly string[];
  readonly noNewPrivileges: boolean;
  readonly privileged: boolean;
  readonly user: string;
  readonly pidsLimit: number | undefined;
  readonly memoryBytes: number | undefined;
  readonly nanoCpus: number | undefined;
  readonly mounts: readonly ObservedMount[];
  readonly env: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

export interface ObservedMount {
  readonly type: 'bind' | 'tmpfs' | 'volume' | 'other';
  readonly source: string;
  readonly target: string;
  /** True only when the runtime says so; a mount it says nothing about counts as writable. */
  readonly readOnly: boolean;
  /** Mount options as the runtime reports them (`noexec`, ...); undefined when it reports none. */
  readonly options: readonly string[] | undefined;
}

export interface PropertyCheck {
  /** A stable name a person reads in doctor output, e.g. "Read-only filesystem". */
  readonly property: string;
  readonly ok: boolean;
  /** What was seen: "enforced" when ok, the reason when not. */
  readonly detail: string;
}

/** The properties `checkContainerAgainstSpec` reports, in its order; doctor prints one line each. */
export const SECURITY_PROPERTIES = [
  'Read-only filesystem',
  'Network isolation',
  'Capabilities dropped',
  'No new privileges',
  'Non-root user',
  'Resource limits',
  'Host mounts limited',
  'No host environment',
] as const;

/** Environment entries a runtime adds on its own; none of them come from the host. */
const RUNTIME_ENV_PREFIXES = ['PATH=', 'HOSTNAME=', 'container=', 'HOME=', 'TERM='];

/**
 * Compares a live container with the spec it was started from, one line per security property.
 * Pure, so each weakened field is a cheap unit test and doctor prints exactly which line failed.
 */
export function checkContainerAgainstSpec(spec: HardenedSpec, seen: ContainerObservation): PropertyCheck[] {
  const check = (property: string, ok: boolean, failure: string): PropertyCheck => ({
    property,
    ok,
    detail: ok ? 'enforced' : failure,
  });
  const mountProblems = hostMountProblems(spec, seen.mounts);
  const foreignEnv = seen.env.filter((entry) => !RUNTIME_ENV_PREFIXES.some((prefix) => entry.startsWith(prefix)));
  const userIsRoot = seen.user === '' || seen.user === '0' || seen.user.startsWith('0:') || seen.user === 'root';

  return [
    check('Read-only filesystem', seen.readOnlyRootfs, 'root filesystem is writable'),
    check('Network isolation', seen.networkMode === 'none', `network mode is ${seen.networkMode || 'default'}`),
    check(
      'Capabilities dropped',
      seen.capDrop.map((cap) => cap.toUpperCase()).includes('ALL') && seen.capAdd.length === 0 && !seen.privileged,
      seen.privileged ? 'container is privileged' : `cap-drop ${JSON.stringify(seen.capDrop)}, cap-add ${JSON.stringify(seen.capAdd)}`,
    ),
    check('No new privileges', seen.noNewPrivileges, 'no-new-privileges is not set'),
    check('Non-root user', !userIsRoot && seen.user === CONTAINER_USER, `runs as ${seen.user || 'the image default (root)'}`),
    check(
      'Resource limits',
      seen.pidsLimit === spec.limits.pids && seen.memoryBytes === spec.limits.memoryBytes && seen.nanoCpus === spec.limits.nanoCpus,
      `pids ${String(seen.pidsLimit)}, memory ${String(seen.memoryBytes)}, cpu ${String(seen.nanoCpus)}`,
    ),
    check('Host mounts limited', mountProblems.length === 0, mountProblems.join('; ')),
    check('No host environment', foreignEnv.length === 0, `unexpected variables: ${foreignEnv.map((e) => e.split('=')[0]).join(', ')}`),
  ];
}

/** What the storage mount must show when the runtime reports options at all. */
const STORAGE_REQUIRED_OPTIONS = ['nosuid', 'nodev', 'noexec'];

/**
 * Accepts exactly the socket directory, read-only, and (if the spec has one) the storage directory,
 * writable but with nosuid, nodev and noexec; besides those only the spec's `/tmp` may be a writable
 * tmpfs (the adapters' shadow tmpfs mounts are read-only). Anything else a runtime added is a place
 * to persist, plant or run what the spec never allowed.
 */
function hostMountProblems(spec: HardenedSpec, mounts: readonly ObservedMount[]): string[] {
  const problems: string[] = [];
  let socketSeen = 0;
  let storageSeen = 0;
  for (const mount of mounts) {
    const where = `${mount.source || mount.type}:${mount.target}`;
    if (mount.type === 'tmpfs') {
      if (mount.target !== spec.tmpfs.target && !mount.readOnly) problems.push(`writable tmpfs ${mount.target}`);
    } else if (isBindOf(mount, spec.socketMount)) {
      socketSeen += 1;
      if (!mount.readOnly) problems.push(`socket mount ${where} is writable`);
    } else if (spec.storageMount !== undefined && isBindOf(mount, spec.storageMount)) {
      storageSeen += 1;
      problems.push(...storageOptionProblems(mount, where));
    } else {
      problems.push(`unexpected ${mount.readOnly ? 'read-only' : 'writable'} mount ${where}`);
    }
  }
  if (socketSeen !== 1) problems.push(`socket directory mounted ${String(socketSeen)} times`);
  if (spec.storageMount !== undefined && storageSeen !== 1) problems.push(`storage directory mounted ${String(storageSeen)} times`);
  return problems;
}

function isBindOf(mount: ObservedMount, wanted: { readonly source: string; readonly target: string }): boolean {
  return mount.type === 'bind' && mount.source === wanted.source && mount.target === wanted.target;
}

/**
 * A runtime that reports no options gives nothing to check noexec against; that fails rather than
 * passes on trust (Docker, which reports none, never gets a storage mount: its adapter refuses one).
 */
function storageOptionProblems(mount: ObservedMount, where: string): string[] {
  if (mount.readOnly) return [`storage mount ${where} is read-only`];
  if (mount.options === undefined) return [`storage mount ${where}: the runtime reports no mount options to check`];
  const missing = STORAGE_REQUIRED_OPTIONS.filter((option) => !mount.options?.includes(option));
  return missing.length === 0 ? [] : [`storage mount ${where} lacks ${missing.join(',')}`];
}
