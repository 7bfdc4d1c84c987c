import { z } from 'zod';
import type { ContainerObservation, ObservedMount } from '../../core/container-observation.js';
import { CarapaceError } from '../../errors.js';

/**
 * The fields of a container inspect answer that Carapace reads, from Docker's `/containers/ID/json`
 * or Podman's `/libpod/containers/ID/json` (a superset with the same names). Unknown keys are ignored;
 * a missing or mistyped field we rely on fails the parse, so a check never runs on a guess.
 */
const inspectSchema = z.object({
  Id: z.string(),
  State: z.object({ Running: z.boolean() }),
  Config: z.object({
    User: z.string().nullish(),
    Env: z.array(z.string()).nullish(),
    Labels: z.record(z.string(), z.string()).nullish(),
  }),
  HostConfig: z.object({
    ReadonlyRootfs: z.boolean().nullish(),
    NetworkMode: z.string().nullish(),
    CapAdd: z.array(z.string()).nullish(),
    CapDrop: z.array(z.string()).nullish(),
    SecurityOpt: z.array(z.string()).nullish(),
    Privileged: z.boolean().nullish(),
    PidsLimit: z.number().nullish(),
    Memory: z.number().nullish(),
    NanoCpus: z.number().nullish(),
    CpuQuota: z.number().nullish(),
    CpuPeriod: z.number().nullish(),
    Tmpfs: z.record(z.string(), z.string()).nullish(),
  }),
  Mounts: z
    .array(
      z.object({
        Type: z.string().nullish(),
        Source: z.string().nullish(),
        Destination: z.string(),
        RW: z.boolean().nullish(),
        // Podman's libpod answer only; Docker (and Podman's compat answer) report no options.
        Options: z.array(z.string()).nullish(),
      }),
    )
    .nullish(),
  // Podman (libpod endpoint) only: the capabilities the container process can ever hold.
  BoundingCaps: z.array(z.string()).nullish(),
});

export type InspectFlavour = 'docker' | 'podman-libpod';

/**
 * Translates inspect output into an observation, reporting only what the runtime said. Where the two
 * runtimes phrase a property differently, the comment says how each is read.
 */
export function toContainerObservation(raw: unknown, flavour: InspectFlavour): ContainerObservation {
  const parsed = inspectSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CarapaceError('RUNTIME_REQUEST_FAILED', 'container inspect answer has an unexpected shape', {
      details: { issues: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) },
    });
  }
  const inspect = parsed.data;
  const host = inspect.HostConfig;
  return {
    id: inspect.Id,
    running: inspect.State.Running,
    readOnlyRootfs: host.ReadonlyRootfs === true,
    networkMode: host.NetworkMode ?? '',
    capDrop: observedCapDrop(inspect, flavour),
    capAdd: (host.CapAdd ?? []).map(withoutCapPrefix),
    noNewPrivileges: (host.SecurityOpt ?? []).some((option) => /^no-new-privileges(?:[:=]true)?$/.test(option)),
    privileged: host.Privileged === true,
    user: inspect.Config.User ?? '',
    // Docker reports 0 or -1 (and Podman 0) for "no limit".
    pidsLimit: positive(host.PidsLimit),
    memoryBytes: positive(host.Memory),
    nanoCpus: positive(host.NanoCpus) ?? cpuQuotaAsNanoCpus(host.CpuQuota, host.CpuPeriod),
    mounts: observedMounts(inspect),
    env: inspect.Config.Env ?? [],
    labels: inspect.Config.Labels ?? {},
  };
}

/**
 * Docker keeps `CapDrop: ["ALL"]` as requested. Podman expands it into the list of its default
 * capabilities it removed, which says nothing about what is left; its libpod answer also carries
 * `BoundingCaps`, the set the process could ever hold. We report "ALL" dropped only when that set is
 * empty, and otherwise the list as given (so the check fails, as it should).
 */
function observedCapDrop(inspect: z.infer<typeof inspectSchema>, flavour: InspectFlavour): string[] {
  const listed = (inspect.HostConfig.CapDrop ?? []).map(withoutCapPrefix);
  if (flavour === 'podman-libpod') {
    const bounding = inspect.BoundingCaps ?? [];
    return bounding.length === 0 ? ['ALL', ...listed] : listed.filter((cap) => cap !== 'ALL');
  }
  return listed;
}

/**
 * `Mounts` lists binds and volumes; tmpfs mounts requested through `HostConfig.Tmpfs` appear only
 * there (on both runtimes), so they are added from it. An image VOLUME shows up as a `volume` mount.
 * A mount is read-only only when the runtime says `RW: false`; options are passed on only when the
 * runtime lists them, so a check on them cannot pass on what was asked for instead of what was done.
 */
function observedMounts(inspect: z.infer<typeof inspectSchema>): ObservedMount[] {
  const mounts: ObservedMount[] = (inspect.Mounts ?? []).map((mount) => ({
    type: toMountType(mount.Type),
    source: mount.Source ?? '',
    target: mount.Destination,
    readOnly: mount.RW === false,
    options: mount.Options ?? undefined,
  }));
  for (const [target, spelled] of Object.entries(inspect.HostConfig.Tmpfs ?? {})) {
    if (mounts.some((mount) => mount.target === target)) continue;
    const options = spelled.split(',').filter((option) => option !== '');
    mounts.push({ type: 'tmpfs', source: 'tmpfs', target, readOnly: options.includes('ro'), options });
  }
  return mounts;
}

function toMountType(type: string | null | undefined): ObservedMount['type'] {
  return type === 'bind' || type === 'tmpfs' || type === 'volume' ? type : 'other';
}

function withoutCapPrefix(capability: string): string {
  const upper = capability.toUpperCase();
  return upper.startsWith('CAP_') ? upper.slice(4) : upper;
}

function positive(value: number | null | undefined): number | undefined {
  return value !== null && value !== undefined && value > 0 ? value : undefined;
}

function cpuQuotaAsNanoCpus(quota: number | null | undefined, period: number | null | undefined): number | undefined {
  const q = positive(quota);
  const p = positive(period);
  return q === undefined || p === undefined ? undefined : Math.round((q * 1e9) / p);
}
