import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkContainerAgainstSpec } from '../../src/core/container-observation.js';
import type { EnsuredImage } from '../../src/images/ensure-image.js';
import type { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { connectTestPodman, loadCanary, makeSocketDir, sh, testHome, testSpec } from '../support/podman-test-runtime.js';

/**
 * A hardened container on real Podman, checked twice: by what `inspect` reports, and by what a
 * process inside can actually do. Inspect alone could be a runtime's description of its intentions.
 */

/** Each probe prints one `key=value` line; a failed command prints the refusal instead. */
const PROBES = [
  'touch /probe 2>/dev/null && echo root=writable || echo root=readonly',
  'touch /run/probe 2>/dev/null && echo run=writable || echo run=readonly',
  'touch /var/tmp/probe 2>/dev/null && echo vartmp=writable || echo vartmp=readonly',
  'echo hi > /tmp/probe && echo tmp=writable || echo tmp=readonly',
  // noexec: a binary copied into the writable /tmp must not run. The copy keeps busybox's name, so a
  // run that is allowed exits 0; the shell's 126 is exec refused (127 would be a missing file).
  'cp /bin/busybox /tmp/busybox; /tmp/busybox true 2>/dev/null; echo tmpexec=$?',
  'echo net=$(ls /sys/class/net | tr "\\n" " ")',
  'echo $(grep NoNewPrivs /proc/self/status | tr -d "\\t ")',
  'echo $(grep CapBnd /proc/self/status | tr -d "\\t ")',
  'echo $(grep CapEff /proc/self/status | tr -d "\\t ")',
  'echo ids=$(id -u):$(id -g)',
  'echo pids=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)',
  'echo memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)',
  'echo nofile=$(ulimit -n)',
  'echo binds=$(grep -c " /run/carapace " /proc/mounts)',
  'echo envnames=$(env | cut -d= -f1 | sort | tr "\\n" ",")',
];

let runtime: DockerApiRuntime;
let canary: EnsuredImage;
const home = testHome();

beforeAll(async () => {
  runtime = await connectTestPodman();
  canary = await loadCanary(runtime);
});

afterAll(async () => {
  await runtime?.[Symbol.asyncDispose]();
});

describe('a hardened container on Podman', () => {
  it('is reported hardened by inspect and is hardened from inside', async () => {
    await using socketDir = await makeSocketDir();
    const spec = testSpec(canary.imageId, socketDir.path, home, { command: sh(PROBES.join('; ')) });
    await using container = await runtime.start(spec);

    const checks = checkContainerAgainstSpec(spec, await runtime.inspect(container.id));
    expect(checks.filter((check) => !check.ok)).toEqual([]);
    expect(checks).toHaveLength(8);

    const exit = await container.wait({ timeoutMs: 20_000 });
    expect(exit.stderr).toBe('');
    const seen = Object.fromEntries(exit.stdout.trim().split('\n').map((line) => /^(\w+)[=:](.*)$/.exec(line)?.slice(1) ?? [line, '']));
    expect(seen).toEqual({
      root: 'readonly',
      run: 'readonly',
      vartmp: 'readonly',
      tmp: 'writable',
      tmpexec: '126',
      net: 'lo',
      NoNewPrivs: '1',
      CapBnd: '0000000000000000',
      CapEff: '0000000000000000',
      ids: '10001:10001',
      pids: '64',
      memory: String(256 * 1024 * 1024),
      nofile: '1024',
      binds: '1',
      envnames: expect.stringMatching(/^[A-Za-z_,]*$/),
    });
    // Only variables the runtime and the shell set themselves: none comes from the host.
    const names = exit.stdout.match(/envnames=(.*)/)?.[1]?.split(',').filter(Boolean) ?? [];
    expect(names.every((name) => ['HOME', 'HOSTNAME', 'PATH', 'PWD', 'SHLVL', 'TERM', 'container'].includes(name))).toBe(true);
    expect(exit.exitCode).toBe(0);
  });

  it('has the socket directory, read-only, as its only bind mount', async () => {
    await using socketDir = await makeSocketDir();
    const spec = testSpec(canary.imageId, socketDir.path, home, { command: sh('sleep 5') });
    await using container = await runtime.start(spec);
    const seen = await runtime.inspect(container.id);
    expect(seen.mounts.filter((mount) => mount.type !== 'tmpfs')).toEqual([
      expect.objectContaining({ type: 'bind', source: socketDir.path, target: '/run/carapace', readOnly: true }),
    ]);
    expect(seen.env.filter((entry) => !/^(PATH|HOSTNAME|HOME|TERM|container)=/.test(entry))).toEqual([]);
  });
});
