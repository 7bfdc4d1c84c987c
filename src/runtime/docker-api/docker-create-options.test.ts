import { describe, expect, it } from 'vitest';
import { toHardenedSpec, type HardenedSpec } from '../../core/container-spec.js';
import { NPROC_CEILING, toDockerCreateOptions } from './docker-create-options.js';

const spec = toHardenedSpec({
  name: 'carapace-echo-1',
  image: 'localhost/echo@sha256:' + 'a'.repeat(64),
  command: ['/bin/echo', 'hi'],
  socketDir: '/home/u/.carapace/run/echo-1',
  labels: { 'io.carapace.home': '/home/u/.carapace' },
});

const withStorage = toHardenedSpec({
  name: 'carapace-echo-1',
  image: spec.image,
  socketDir: '/home/u/.carapace/run/echo-1',
  storageDir: '/home/u/.carapace/storage/echo',
  labels: {},
});

describe('toDockerCreateOptions', () => {
  it('spells out every hardened property', () => {
    const options = toDockerCreateOptions(spec, 'podman');
    expect(options).toMatchObject({
      name: 'carapace-echo-1',
      Image: spec.image,
      Cmd: ['/bin/echo', 'hi'],
      User: '10001:10001',
      Env: [],
      Labels: { 'io.carapace.home': '/home/u/.carapace', 'io.carapace.managed': 'true' },
      Tty: false,
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
    });
    expect(options.HostConfig).toEqual({
      ReadonlyRootfs: true,
      NetworkMode: 'none',
      CapDrop: ['ALL'],
      CapAdd: [],
      SecurityOpt: ['no-new-privileges'],
      Privileged: false,
      PidsLimit: 64,
      Memory: 256 * 1024 * 1024,
      MemorySwap: 256 * 1024 * 1024,
      NanoCpus: 500_000_000,
      Ulimits: [
        { Name: 'nofile', Soft: 1024, Hard: 1024 },
        { Name: 'nproc', Soft: NPROC_CEILING, Hard: NPROC_CEILING },
      ],
      Tmpfs: {
        '/tmp': 'rw,noexec,nosuid,nodev,size=16777216',
        '/run': 'ro,noexec,nosuid,nodev,size=1m',
        '/var/tmp': 'ro,noexec,nosuid,nodev,size=1m',
      },
      Binds: ['/home/u/.carapace/run/echo-1:/run/carapace:ro'],
      AutoRemove: false,
      RestartPolicy: { Name: 'no' },
    });
  });

  it('gives Docker the same options, the socket directory read-only too', () => {
    expect(toDockerCreateOptions(spec, 'docker')).toEqual(toDockerCreateOptions(spec, 'podman'));
  });

  it('mounts the storage directory on Podman with nosuid,nodev,noexec as bind options', () => {
    const options = toDockerCreateOptions(withStorage, 'podman');
    expect(options.HostConfig?.Binds).toEqual([
      '/home/u/.carapace/run/echo-1:/run/carapace:ro',
      '/home/u/.carapace/storage/echo:/data:rw,nosuid,nodev,noexec',
    ]);
    expect(options.HostConfig).not.toHaveProperty('Mounts');
  });

  it('refuses a storage directory on Docker, which cannot make a bind mount noexec', () => {
    expect(() => toDockerCreateOptions(withStorage, 'docker')).toThrowError(expect.objectContaining({ code: 'RUNTIME_UNSUPPORTED' }));
  });

  it.each([
    ['executable', { source: '/d', target: '/data', options: 'rw,nosuid,nodev' }],
    ['moved', { source: '/d', target: '/', options: 'rw,nosuid,nodev,noexec' }],
  ])('refuses a storage mount mutated to be %s', (_name, storageMount) => {
    const mutated = { ...spec, storageMount } as unknown as HardenedSpec;
    expect(() => toDockerCreateOptions(mutated, 'podman')).toThrowError(expect.objectContaining({ code: 'SPEC_VIOLATION' }));
  });

  it('refuses a writable socket mount', () => {
    const mutated = { ...spec, socketMount: { ...spec.socketMount, readOnly: false } } as unknown as HardenedSpec;
    expect(() => toDockerCreateOptions(mutated, 'podman')).toThrowError(expect.objectContaining({ code: 'SPEC_VIOLATION' }));
  });

  it('leaves the image command alone when the spec has none', () => {
    const options = toDockerCreateOptions({ ...spec, command: undefined }, 'podman');
    expect(options).not.toHaveProperty('Cmd');
  });

  it('copies the labels, so a later change to the caller object cannot relabel the container', () => {
    const options = toDockerCreateOptions(spec, 'podman');
    expect(options.Labels).not.toBe(spec.labels);
  });

  it.each([
    ['a writable root', { readOnlyRootfs: false }],
    ['a network', { network: 'bridge' }],
    ['kept capabilities', { capDrop: [] }],
    ['privileged mode', { privileged: true }],
    ['root', { user: '0:0' }],
    ['host environment', { env: ['AWS_SECRET_ACCESS_KEY=x'] }],
    ['a raised pids limit', { limits: { ...spec.limits, pids: 100_000 } }],
  ])('refuses a spec mutated to allow %s', (_name, change) => {
    const mutated = { ...spec, ...change } as unknown as HardenedSpec;
    expect(() => toDockerCreateOptions(mutated, 'podman')).toThrowError(expect.objectContaining({ code: 'SPEC_VIOLATION' }));
  });

  it.each(['/a:/etc', '/a,target=/etc', '/a\n'])('refuses a socket or storage path that could inject mount syntax: %j', (source) => {
    const socket = { ...spec, socketMount: { ...spec.socketMount, source } };
    expect(() => toDockerCreateOptions(socket, 'podman')).toThrowError(expect.objectContaining({ code: 'SPEC_VIOLATION' }));
    const storage = { ...withStorage, storageMount: { ...withStorage.storageMount!, source } };
    expect(() => toDockerCreateOptions(storage, 'podman')).toThrowError(expect.objectContaining({ code: 'SPEC_VIOLATION' }));
  });
});
