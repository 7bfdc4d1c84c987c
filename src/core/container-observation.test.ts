import { describe, expect, it } from 'vitest';
import { checkContainerAgainstSpec, SECURITY_PROPERTIES, type ContainerObservation } from './container-observation.js';
import { toHardenedSpec } from './container-spec.js';

const spec = toHardenedSpec({ name: 'c', image: 'i', socketDir: '/s/c', labels: {} });

const faithful: ContainerObservation = {
  id: 'abc',
  running: true,
  readOnlyRootfs: true,
  networkMode: 'none',
  capDrop: ['ALL'],
  capAdd: [],
  noNewPrivileges: true,
  privileged: false,
  user: '10001:10001',
  pidsLimit: spec.limits.pids,
  memoryBytes: spec.limits.memoryBytes,
  nanoCpus: spec.limits.nanoCpus,
  mounts: [
    { type: 'bind', source: '/s/c', target: '/run/carapace' },
    { type: 'tmpfs', source: '', target: '/tmp' },
  ],
  env: ['PATH=/bin', 'container=podman', 'HOSTNAME=abc'],
  labels: {},
};

const failing = (seen: ContainerObservation): string[] =>
  checkContainerAgainstSpec(spec, seen).filter((line) => !line.ok).map((line) => line.property);

describe('checkContainerAgainstSpec', () => {
  it('passes every property for a container that honours the spec', () => {
    const lines = checkContainerAgainstSpec(spec, faithful);
    expect(lines.map((line) => line.property)).toEqual(SECURITY_PROPERTIES);
    expect(lines.every((line) => line.ok && line.detail === 'enforced')).toBe(true);
  });

  it.each<[string, Partial<ContainerObservation>]>([
    ['Read-only filesystem', { readOnlyRootfs: false }],
    ['Network isolation', { networkMode: 'bridge' }],
    ['Network isolation', { networkMode: 'host' }],
    ['Capabilities dropped', { capDrop: [] }],
    ['Capabilities dropped', { capAdd: ['NET_ADMIN'] }],
    ['Capabilities dropped', { privileged: true }],
    ['No new privileges', { noNewPrivileges: false }],
    ['Non-root user', { user: '' }],
    ['Non-root user', { user: '0:0' }],
    ['Resource limits', { pidsLimit: undefined }],
    ['Resource limits', { memoryBytes: 0 }],
    ['Socket directory only mount', { mounts: [...faithful.mounts, { type: 'bind', source: '/', target: '/host' }] }],
    ['Socket directory only mount', { mounts: [] }],
    ['No host environment', { env: ['PATH=/bin', 'OPENAI_API_KEY=sk-x'] }],
  ])('fails exactly %s when the runtime reports %o', (property, patch) => {
    expect(failing({ ...faithful, ...patch })).toEqual([property]);
  });

  it('names leaked variables without their values', () => {
    const line = checkContainerAgainstSpec(spec, { ...faithful, env: ['SECRET=hunter2'] }).find((l) => !l.ok);
    expect(line?.detail).toContain('SECRET');
    expect(line?.detail).not.toContain('hunter2');
  });
});
