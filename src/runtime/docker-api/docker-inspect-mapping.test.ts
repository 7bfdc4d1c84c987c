import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkContainerAgainstSpec, SECURITY_PROPERTIES } from '../../core/container-observation.js';
import { toHardenedSpec } from '../../core/container-spec.js';
import { toContainerObservation } from './docker-inspect-mapping.js';

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../../../test/runtime/fixtures/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;
}

/** The spec the captured containers were created from (see test/runtime/fixtures/README.md). */
const request = {
  name: 'carapace-fixture',
  image: 'localhost/carapace/canary',
  command: ['/bin/busybox', 'sleep', '30'],
  socketDir: '/tmp/explore/sockdir',
  labels: { 'io.carapace.home': '/root/.carapace' },
};
const spec = toHardenedSpec(request);
const storageSpec = toHardenedSpec({ ...request, storageDir: '/tmp/explore/storage' });

describe('toContainerObservation on real runtime output', () => {
  it('maps a hardened container so that every property checks out', () => {
    const seen = toContainerObservation(fixture('podman-4.3.1-libpod-inspect-hardened.json'), 'podman-libpod');
    expect(seen).toMatchObject({
      running: true,
      readOnlyRootfs: true,
      networkMode: 'none',
      capAdd: [],
      noNewPrivileges: true,
      privileged: false,
      user: '10001:10001',
      pidsLimit: 64,
      memoryBytes: 256 * 1024 * 1024,
      nanoCpus: 500_000_000,
      labels: { 'io.carapace.home': '/root/.carapace', 'io.carapace.managed': 'true' },
    });
    expect(seen.capDrop[0]).toBe('ALL');
    expect(seen.mounts).toEqual(
      expect.arrayContaining([
        { type: 'bind', source: '/tmp/explore/sockdir', target: '/run/carapace', readOnly: true, options: ['rbind'] },
        expect.objectContaining({ type: 'tmpfs', target: '/tmp', readOnly: false, options: expect.arrayContaining(['noexec']) }),
        expect.objectContaining({ type: 'tmpfs', target: '/run', readOnly: true }),
        expect.objectContaining({ type: 'tmpfs', target: '/var/tmp', readOnly: true }),
      ]),
    );
    expect(seen.mounts).toHaveLength(4);
    expect(checkContainerAgainstSpec(spec, seen).filter((check) => !check.ok)).toEqual([]);
  });

  it('maps a container with a storage mount: its options as Podman reports them, and the checks pass', () => {
    const seen = toContainerObservation(fixture('podman-4.3.1-libpod-inspect-storage.json'), 'podman-libpod');
    expect(seen.mounts.filter((mount) => mount.type === 'bind')).toEqual([
      { type: 'bind', source: '/tmp/explore/storage', target: '/data', readOnly: false, options: ['nosuid', 'nodev', 'noexec', 'rbind'] },
      { type: 'bind', source: '/tmp/explore/sockdir', target: '/run/carapace', readOnly: true, options: ['rbind'] },
    ]);
    expect(checkContainerAgainstSpec(storageSpec, seen).filter((check) => !check.ok)).toEqual([]);
    // The same container against a spec without storage: its /data mount is one too many.
    expect(checkContainerAgainstSpec(spec, seen).filter((check) => !check.ok).map((check) => check.property)).toEqual(['Host mounts limited']);
  });

  it('fails the mounts line when Podman reports the storage mount without noexec, or the socket mount writable', () => {
    const raw = fixture('podman-4.3.1-libpod-inspect-storage.json');
    const mounts = raw['Mounts'] as Record<string, unknown>[];
    const loosened = mounts.map((mount) =>
      mount['Destination'] === '/data' ? { ...mount, Options: ['nosuid', 'nodev', 'rbind'] } : { ...mount, RW: true },
    );
    const seen = toContainerObservation({ ...raw, Mounts: loosened }, 'podman-libpod');
    const line = checkContainerAgainstSpec(storageSpec, seen).find((check) => check.property === 'Host mounts limited');
    expect(line?.ok).toBe(false);
    expect(line?.detail).toContain('lacks noexec');
    expect(line?.detail).toContain('/run/carapace is writable');
  });

  it('fails every property of a container started with Podman defaults', () => {
    const seen = toContainerObservation(fixture('podman-4.3.1-libpod-inspect-default.json'), 'podman-libpod');
    expect(seen.capDrop).not.toContain('ALL');
    expect(seen.env).toContain('SECRET_TOKEN=hunter2');
    const failed = checkContainerAgainstSpec(spec, seen).filter((check) => !check.ok).map((check) => check.property);
    expect(failed).toEqual(SECURITY_PROPERTIES);
  });

  it('maps a hardened container on Docker 20.10 so that every property checks out', () => {
    const seen = toContainerObservation(fixture('docker-20.10.24-inspect-hardened.json'), 'docker');
    expect(seen).toMatchObject({ capDrop: ['ALL'], env: [], user: '10001:10001', networkMode: 'none' });
    // Docker reports RW but no mount options.
    expect(seen.mounts.filter((mount) => mount.type === 'bind')).toEqual([
      { type: 'bind', source: '/tmp/explore/sockdir', target: '/run/carapace', readOnly: true, options: undefined },
    ]);
    expect(checkContainerAgainstSpec(spec, seen).filter((check) => !check.ok)).toEqual([]);
  });

  it("does not take Podman's compat CapDrop list for ALL (why Podman is inspected through libpod)", () => {
    const seen = toContainerObservation(fixture('podman-4.3.1-compat-inspect-hardened.json'), 'docker');
    expect(seen.capDrop).not.toContain('ALL');
    expect(seen.capDrop).toContain('SYS_CHROOT');
  });

  it('does not report ALL dropped when the bounding set still holds a capability', () => {
    const raw = fixture('podman-4.3.1-libpod-inspect-hardened.json');
    const seen = toContainerObservation({ ...raw, BoundingCaps: ['CAP_NET_RAW'] }, 'podman-libpod');
    expect(seen.capDrop).not.toContain('ALL');
  });

  it('fails closed on an answer without the fields it reads', () => {
    const raw = fixture('podman-4.3.1-libpod-inspect-hardened.json');
    const { HostConfig: _dropped, ...withoutHostConfig } = raw;
    expect(() => toContainerObservation(withoutHostConfig, 'podman-libpod')).toThrowError(
      expect.objectContaining({ code: 'RUNTIME_REQUEST_FAILED' }),
    );
  });

  it('derives the CPU limit from quota and period when NanoCpus is absent', () => {
    const raw = fixture('podman-4.3.1-libpod-inspect-hardened.json');
    const host = { ...(raw['HostConfig'] as object), NanoCpus: 0, CpuQuota: 25_000, CpuPeriod: 100_000 };
    expect(toContainerObservation({ ...raw, HostConfig: host }, 'podman-libpod').nanoCpus).toBe(250_000_000);
  });
});
