import { describe, expect, it } from 'vitest';
import { CarapaceError } from '../errors.js';
import {
  CONTAINER_USER,
  DEFAULT_LIMITS,
  LABEL_MANAGED,
  MAX_LIMITS,
  toHardenedSpec,
  verifyHardenedSpec,
  type ContainerRequest,
  type HardenedSpec,
} from './container-spec.js';

const request: ContainerRequest = {
  name: 'carapace-echo-1',
  image: 'localhost/carapace/echo:1',
  socketDir: '/home/u/.carapace/sockets/echo',
  labels: { 'io.carapace.plugin': 'echo' },
};

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return error instanceof CarapaceError ? error.code : 'not a CarapaceError';
  }
  return undefined;
}

describe('toHardenedSpec', () => {
  it('locks every security property down whatever the request', () => {
    const spec = toHardenedSpec(request);
    expect(spec).toMatchObject({
      user: CONTAINER_USER,
      readOnlyRootfs: true,
      network: 'none',
      capDrop: ['ALL'],
      noNewPrivileges: true,
      privileged: false,
      env: [],
      openStdin: true,
      socketMount: { source: request.socketDir, target: '/run/carapace', readOnly: true },
      storageMount: undefined,
      tmpfs: { target: '/tmp', options: 'rw,noexec,nosuid,nodev' },
      limits: DEFAULT_LIMITS,
    });
    expect(spec.labels).toEqual({ 'io.carapace.plugin': 'echo', [LABEL_MANAGED]: 'true' });
  });

  it('mounts a storage directory read-write at /data with nosuid,nodev,noexec, and nothing else', () => {
    const spec = toHardenedSpec({ ...request, storageDir: '/home/u/.carapace/storage/echo' });
    expect(spec.storageMount).toEqual({ source: '/home/u/.carapace/storage/echo', target: '/data', options: 'rw,nosuid,nodev,noexec' });
    expect(spec.socketMount.readOnly).toBe(true);
    expect(codeOf(() => verifyHardenedSpec(spec))).toBeUndefined();
  });

  it.each([
    ['a relative storage directory', { storageDir: 'storage/echo' }],
    ['a storage directory with ..', { storageDir: '/home/u/.carapace/storage/../sockets/echo' }],
    ['a storage directory with a trailing slash', { storageDir: '/home/u/.carapace/storage/echo/' }],
    ['the socket directory as storage', { storageDir: request.socketDir }],
    ['storage that contains the socket directory', { storageDir: '/home/u/.carapace' }],
    ['the root as storage', { storageDir: '/' }],
    ['storage inside the socket directory', { storageDir: `${request.socketDir}/data` }],
    ['a socket directory with a . segment', { socketDir: '/home/u/./sockets/echo' }],
  ])('refuses %s with SPEC_VIOLATION', (_what, patch) => {
    expect(codeOf(() => toHardenedSpec({ ...request, ...patch }))).toBe('SPEC_VIOLATION');
  });

  it('accepts sibling directories whose names share a prefix', () => {
    const spec = toHardenedSpec({ ...request, socketDir: '/h/run/echo', storageDir: '/h/run/echo-data' });
    expect(spec.storageMount?.source).toBe('/h/run/echo-data');
  });

  it('lets a request lower limits but clamps anything above the ceilings', () => {
    const spec = toHardenedSpec({ ...request, limits: { pids: 10_000, memoryBytes: 64 * 1024 * 1024, nanoCpus: 8e9 } });
    expect(spec.limits).toEqual({ pids: MAX_LIMITS.pids, memoryBytes: 64 * 1024 * 1024, nanoCpus: MAX_LIMITS.nanoCpus });
  });

  it('refuses nonsense limits, names and label keys with SPEC_VIOLATION', () => {
    expect(codeOf(() => toHardenedSpec({ ...request, limits: { pids: 0 } }))).toBe('SPEC_VIOLATION');
    expect(codeOf(() => toHardenedSpec({ ...request, limits: { memoryBytes: Number.NaN } }))).toBe('SPEC_VIOLATION');
    expect(codeOf(() => toHardenedSpec({ ...request, name: '../escape' }))).toBe('SPEC_VIOLATION');
    expect(codeOf(() => toHardenedSpec({ ...request, socketDir: 'relative/dir' }))).toBe('SPEC_VIOLATION');
    expect(codeOf(() => toHardenedSpec({ ...request, labels: { 'Bad Key': 'x' } }))).toBe('SPEC_VIOLATION');
  });

  it('does not let a caller override the managed label', () => {
    expect(toHardenedSpec({ ...request, labels: { [LABEL_MANAGED]: 'false' } }).labels[LABEL_MANAGED]).toBe('true');
  });
});

describe('verifyHardenedSpec', () => {
  const loosen = (patch: Record<string, unknown>): HardenedSpec => ({ ...toHardenedSpec(request), ...patch }) as HardenedSpec;

  it('accepts what toHardenedSpec builds', () => {
    expect(codeOf(() => verifyHardenedSpec(toHardenedSpec(request)))).toBeUndefined();
  });

  it.each([
    ['a writable root filesystem', { readOnlyRootfs: false }],
    ['a network', { network: 'bridge' }],
    ['kept capabilities', { capDrop: [] }],
    ['new privileges', { noNewPrivileges: false }],
    ['privileged mode', { privileged: true }],
    ['the root user', { user: '0:0' }],
    ['an environment', { env: ['AWS_SECRET_ACCESS_KEY=x'] }],
    ['a raised pids limit', { limits: { ...DEFAULT_LIMITS, pids: MAX_LIMITS.pids + 1 } }],
    ['an executable /tmp', { tmpfs: { target: '/tmp', sizeBytes: 1, options: 'rw' } }],
    ['a moved socket mount', { socketMount: { source: '/x', target: '/', readOnly: true } }],
    ['a writable socket mount', { socketMount: { source: '/x', target: '/run/carapace', readOnly: false } }],
    ['a socket mount without readOnly', { socketMount: { source: '/x', target: '/run/carapace' } }],
    ['a moved storage mount', { storageMount: { source: '/d', target: '/', options: 'rw,nosuid,nodev,noexec' } }],
    ['a storage mount over /run/carapace', { storageMount: { source: '/d', target: '/run/carapace', options: 'rw,nosuid,nodev,noexec' } }],
    ['an executable storage mount', { storageMount: { source: '/d', target: '/data', options: 'rw,nosuid,nodev' } }],
    ['a storage mount with suid', { storageMount: { source: '/d', target: '/data', options: 'rw,nodev,noexec' } }],
    ['a storage mount without options', { storageMount: { source: '/d', target: '/data' } }],
    ['a storage mount without a source', { storageMount: { target: '/data', options: 'rw,nosuid,nodev,noexec' } }],
    ['a storage mount holding the socket directory', { storageMount: { source: '/home/u', target: '/data', options: 'rw,nosuid,nodev,noexec' } }],
    ['a storage mount that is not an object', { storageMount: '/d:/data:rw' }],
  ])('refuses a spec with %s', (_what, patch) => {
    expect(codeOf(() => verifyHardenedSpec(loosen(patch)))).toBe('SPEC_VIOLATION');
  });
});
