import { z } from 'zod';
import type { ContainerObservation, ObservedMount } from '../../core/container-observation.js';
import { CarapaceError } from '../../errors.js';

/**
 * The fields of one `container inspect` / `container list --format json` element we read. The shape
 * follows apple/container's `ContainerSnapshot` (Swift Codable: enums with payloads become
 * single-key objects such as `{"id":{"uid":1,"gid":1}}`). Not checked against a live Mac here.
 */
const userSchema = z.union([
  z.object({ id: z.object({ uid: z.number(), gid: z.number() }) }),
  z.object({ raw: z.object({ userString: z.string() }) }),
]);

const snapshotSchema = z.object({
  status: z.union([z.string(), z.object({ state: z.string() })]),
  configuration: z.object({
    id: z.string(),
    labels: z.record(z.string(), z.string()).nullish(),
    readOnly: z.boolean().nullish(),
    capAdd: z.array(z.string()).nullish(),
    capDrop: z.array(z.string()).nullish(),
    networks: z.array(z.union([z.string(), z.object({ network: z.string() })])).nullish(),
    mounts: z
      .array(
        z.object({
          type: z.union([z.string(), z.record(z.string(), z.unknown())]).nullish(),
          source: z.string().nullish(),
          destination: z.string(),
          options: z.array(z.string()).nullish(),
        }),
      )
      .nullish(),
    resources: z.object({ cpus: z.number().nullish(), memoryInBytes: z.number().nullish() }).nullish(),
    initProcess: z.object({
      environment: z.array(z.string()).nullish(),
      user: userSchema.nullish(),
      privileged: z.boolean().nullish(),
      noNewPrivileges: z.boolean().nullish(),
    }),
  }),
});

export type AppleSnapshot = z.infer<typeof snapshotSchema>;

export function parseAppleSnapshots(raw: unknown): AppleSnapshot[] {
  const parsed = z.array(snapshotSchema).safeParse(raw);
  if (!parsed.success) {
    throw new CarapaceError('RUNTIME_REQUEST_FAILED', 'container CLI answer has an unexpected shape', {
      details: { issues: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) },
    });
  }
  return parsed.data;
}

export function appleState(snapshot: AppleSnapshot): string {
  return typeof snapshot.status === 'string' ? snapshot.status : snapshot.status.state;
}

/**
 * Translates a snapshot into an observation. What the CLI does not report stays unset (pids) or false
 * (no-new-privileges), so the matching checks fail rather than pass on an assumption.
 */
export function toAppleObservation(snapshot: AppleSnapshot): ContainerObservation {
  const config = snapshot.configuration;
  const process = config.initProcess;
  const networks = (config.networks ?? []).map((network) => (typeof network === 'string' ? network : network.network));
  const cpus = config.resources?.cpus ?? undefined;
  return {
    id: config.id,
    running: appleState(snapshot) === 'running',
    readOnlyRootfs: config.readOnly === true,
    networkMode: networks.length === 0 || networks.every((network) => network === 'none') ? 'none' : networks.join(','),
    capDrop: (config.capDrop ?? []).map(withoutCapPrefix),
    capAdd: (config.capAdd ?? []).map(withoutCapPrefix),
    noNewPrivileges: process.noNewPrivileges === true,
    privileged: process.privileged === true,
    user: toUserString(process.user ?? undefined),
    pidsLimit: undefined,
    memoryBytes: config.resources?.memoryInBytes ?? undefined,
    nanoCpus: cpus === undefined ? undefined : cpus * 1e9,
    mounts: (config.mounts ?? []).map(toObservedMount),
    env: process.environment ?? [],
    labels: config.labels ?? {},
  };
}

function toUserString(user: z.infer<typeof userSchema> | undefined): string {
  if (user === undefined) return '';
  return 'id' in user ? `${String(user.id.uid)}:${String(user.id.gid)}` : user.raw.userString;
}

/**
 * Mount types arrive as a string or as a single-key object (`{"virtiofs":{}}`); virtiofs is the bind.
 * The options are the `Filesystem.options` the CLI parsed from `--volume src:dst:opts`; read-only is
 * an `ro` among them.
 */
function toObservedMount(mount: NonNullable<AppleSnapshot['configuration']['mounts']>[number]): ObservedMount {
  const type = typeof mount.type === 'string' ? mount.type : Object.keys(mount.type ?? {})[0] ?? '';
  const kind = type === 'virtiofs' || type === 'bind' ? 'bind' : type === 'tmpfs' ? 'tmpfs' : type === 'volume' || type === 'block' ? 'volume' : 'other';
  const options = mount.options ?? undefined;
  return { type: kind, source: mount.source ?? '', target: mount.destination, readOnly: options?.includes('ro') === true, options };
}

function withoutCapPrefix(capability: string): string {
  const upper = capability.toUpperCase();
  return upper.startsWith('CAP_') ? upper.slice(4) : upper;
}
