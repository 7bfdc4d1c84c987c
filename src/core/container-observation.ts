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
  'Socket directory only mount',
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
  const binds = seen.mounts.filter((mount) => mount.type !== 'tmpfs');
  const onlySocketMount =
    binds.length === 1 && binds[0]?.source === spec.socketMount.source && binds[0]?.target === spec.socketMount.target;
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
    check(
      'Socket directory only mount',
      onlySocketMount,
      `mounts: ${binds.map((mount) => `${mount.source}:${mount.target}`).join(', ') || 'none'}`,
    ),
    check('No host environment', foreignEnv.length === 0, `unexpected variables: ${foreignEnv.map((e) => e.split('=')[0]).join(', ')}`),
  ];
}
