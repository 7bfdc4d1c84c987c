import { describe, expect, it } from 'vitest';
import { toHardenedSpec, type HardenedSpec } from '../../core/container-spec.js';
import { toAppleCreateArgs } from './apple-run-args.js';

const spec = toHardenedSpec({
  name: 'carapace-echo-1',
  image: 'localhost/echo@sha256:' + 'b'.repeat(64),
  command: ['node', '/app/main.js'],
  socketDir: '/Users/u/.carapace/run/echo-1',
  labels: { 'io.carapace.home': '/Users/u/.carapace', 'io.carapace.role': 'plugin' },
});

describe('toAppleCreateArgs', () => {
  it('builds the exact argv', () => {
    expect(toAppleCreateArgs(spec)).toEqual([
      'create',
      '--name', 'carapace-echo-1',
      '--read-only',
      '--network', 'none',
      '--no-dns',
      '--cap-drop', 'ALL',
      '--user', '10001:10001',
      '--memory', '256M',
      '--cpus', '1',
      '--ulimit', 'nofile=1024:1024',
      '--ulimit', 'nproc=64:64',
      '--tmpfs', '/tmp',
      '--volume', '/Users/u/.carapace/run/echo-1:/run/carapace:ro',
      '--label', 'io.carapace.home=/Users/u/.carapace',
      '--label', 'io.carapace.managed=true',
      '--label', 'io.carapace.role=plugin',
      '--interactive',
      spec.image,
      'node', '/app/main.js',
    ]);
  });

  it('adds the storage directory with nosuid,nodev,noexec after the read-only socket directory', () => {
    const args = toAppleCreateArgs(toHardenedSpec({ ...requestOf(spec), storageDir: '/Users/u/.carapace/storage/echo' }));
    const volumes = args.flatMap((arg, index) => (args[index - 1] === '--volume' ? [arg] : []));
    expect(volumes).toEqual(['/Users/u/.carapace/run/echo-1:/run/carapace:ro', '/Users/u/.carapace/storage/echo:/data:rw,nosuid,nodev,noexec']);
  });

  it('never passes an environment variable or a privilege flag', () => {
    const args = toAppleCreateArgs(spec);
    for (const flag of ['-e', '--env', '--env-file', '--privileged', '--cap-add', '--ssh', '--virtualization', '--publish', '-p']) {
      expect(args).not.toContain(flag);
    }
  });

  it('rounds CPU up to whole VM CPUs and memory down to MiB', () => {
    const odd = toHardenedSpec({ ...requestOf(spec), limits: { nanoCpus: 1_000_000_000, memoryBytes: 100 * 1024 * 1024 + 5 } });
    const args = toAppleCreateArgs(odd);
    expect(args[args.indexOf('--cpus') + 1]).toBe('1');
    expect(args[args.indexOf('--memory') + 1]).toBe('100M');
  });

  it('refuses a mutated spec and a socket path that could inject a second mount', () => {
    expect(() => toAppleCreateArgs({ ...spec, network: 'default' } as unknown as HardenedSpec)).toThrowError(
      expect.objectContaining({ code: 'SPEC_VIOLATION' }),
    );
    expect(() => toAppleCreateArgs({ ...spec, socketMount: { ...spec.socketMount, source: '/a:/etc' } })).toThrowError(
      expect.objectContaining({ code: 'SPEC_VIOLATION' }),
    );
    const storage = { source: '/a,exec', target: '/data', options: 'rw,nosuid,nodev,noexec' } as const;
    expect(() => toAppleCreateArgs({ ...spec, storageMount: storage })).toThrowError(expect.objectContaining({ code: 'SPEC_VIOLATION' }));
    const writable = { ...spec, socketMount: { ...spec.socketMount, readOnly: false } } as unknown as HardenedSpec;
    expect(() => toAppleCreateArgs(writable)).toThrowError(expect.objectContaining({ code: 'SPEC_VIOLATION' }));
  });
});

function requestOf(s: HardenedSpec) {
  return { name: s.name, image: s.image, socketDir: s.socketMount.source, labels: s.labels };
}
