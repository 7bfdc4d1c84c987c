import { describe, expect, it } from 'vitest';
import {
  checkContainerAgainstSpec,
  SECURITY_PROPERTIES,
  type ContainerObservation,
  type ObservedMount,
} from './container-observation.js';
import { toHardenedSpec } from './container-spec.js';

const spec = toHardenedSpec({ name: 'c', image: 'i', socketDir: '/s/c', labels: {} });
const withStorage = toHardenedSpec({ name: 'c', image: 'i', socketDir: '/s/c', storageDir: '/d/c', labels: {} });

const socketMount: ObservedMount = { type: 'bind', source: '/s/c', target: '/run/carapace', readOnly: true, options: ['rbind'] };
const storageMount: ObservedMount = {
  type: 'bind',
  source: '/d/c',
  target: '/data',
  readOnly: false,
  options: ['nosuid', 'nodev', 'noexec', 'rbind'],
};
const tmpfs = (target: string, readOnly: boolean): ObservedMount => ({ type: 'tmpfs', source: 'tmpfs', target, readOnly, options: undefined });

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
  mounts: [socketMount, tmpfs('/tmp', false), tmpfs('/run', true), tmpfs('/var/tmp', true)],
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
    ['Host mounts limited', { mounts: [...faithful.mounts, { ...socketMount, source: '/', target: '/host' }] }],
    ['Host mounts limited', { mounts: [] }],
    ['Host mounts limited', { mounts: [{ ...socketMount, readOnly: false }] }],
    ['Host mounts limited', { mounts: [socketMount, socketMount] }],
    ['Host mounts limited', { mounts: [{ ...socketMount, type: 'volume' }] }],
    ['Host mounts limited', { mounts: [socketMount, storageMount] }],
    ['Host mounts limited', { mounts: [socketMount, tmpfs('/run', false)] }],
    ['Host mounts limited', { mounts: [socketMount, tmpfs('/data', false)] }],
    ['No host environment', { env: ['PATH=/bin', 'OPENAI_API_KEY=sk-x'] }],
  ])('fails exactly %s when the runtime reports %o', (property, patch) => {
    expect(failing({ ...faithful, ...patch })).toEqual([property]);
  });

  it('accepts a read-only socket mount plus the storage mount when the spec has one', () => {
    const lines = checkContainerAgainstSpec(withStorage, { ...faithful, mounts: [...faithful.mounts, storageMount] });
    expect(lines.filter((line) => !line.ok)).toEqual([]);
  });

  it.each<[string, readonly ObservedMount[]]>([
    ['storage missing', [socketMount]],
    ['storage read-only', [socketMount, { ...storageMount, readOnly: true }]],
    ['storage executable', [socketMount, { ...storageMount, options: ['nosuid', 'nodev', 'rbind'] }]],
    ['storage allowing setuid', [socketMount, { ...storageMount, options: ['nodev', 'noexec'] }]],
    ['storage options not reported', [socketMount, { ...storageMount, options: undefined }]],
    ['storage from another directory', [socketMount, { ...storageMount, source: '/d/other' }]],
    ['storage mounted twice', [socketMount, storageMount, { ...storageMount, target: '/data2' }]],
    ['a writable socket mount', [{ ...socketMount, readOnly: false }, storageMount]],
  ])('fails only the mounts line with a storage spec and %s', (_what, mounts) => {
    const failed = checkContainerAgainstSpec(withStorage, { ...faithful, mounts });
    expect(failed.filter((line) => !line.ok).map((line) => line.property)).toEqual(['Host mounts limited']);
  });

  it('says which mount broke the rule', () => {
    const line = checkContainerAgainstSpec(spec, { ...faithful, mounts: [{ ...socketMount, readOnly: false }, storageMount] }).find((l) => !l.ok);
    expect(line?.detail).toContain('socket mount /s/c:/run/carapace is writable');
    expect(line?.detail).toContain('unexpected writable mount /d/c:/data');
  });

  it('names leaked variables without their values', () => {
    const line = checkContainerAgainstSpec(spec, { ...faithful, env: ['SECRET=hunter2'] }).find((l) => !l.ok);
    expect(line?.detail).toContain('SECRET');
    expect(line?.detail).not.toContain('hunter2');
  });
});
