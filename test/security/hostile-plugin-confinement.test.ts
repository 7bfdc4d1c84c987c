import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import type { WireReply } from '../../src/wire/message.js';
import type { TestCore } from '../support/core-harness.js';
import { hostilePluginManifest, startHostileCore, type HostileCore } from '../support/hostile-plugin.js';
import { podmanSocket } from '../support/podman.js';
import { rawInspectText } from '../support/podman-test-runtime.js';

/**
 * A plugin that attacks from inside its container, run by the real core in real Podman. It reports
 * each attempt; every one must have failed. The host side checks the same facts from outside.
 */
describe('a hostile plugin inside its container', () => {
  const secrets = {
    echo: { ECHO_TOKEN: `echo-token-${randomBytes(16).toString('hex')}` },
    hostile: { HOSTILE_TOKEN: `hostile-token-${randomBytes(16).toString('hex')}`, UNDECLARED: `undeclared-${randomBytes(16).toString('hex')}` },
    other: { OTHER_TOKEN: `other-token-${randomBytes(16).toString('hex')}` },
  };
  const allValues = Object.values(secrets).flatMap((values) => Object.values(values));
  let hostileCore: HostileCore;
  let runtime: DockerApiRuntime;
  let harness: TestCore;
  let listener: Server;
  let connectionsToHost = 0;
  let report: Record<string, unknown>;

  beforeAll(async () => {
    listener = createServer((socket) => {
      connectionsToHost += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '0.0.0.0', resolve));
    hostileCore = await startHostileCore((image) => ({ hostile: hostilePluginManifest(image) }), {
      credentials: secrets,
      config: '[calls]\ntimeout_ms = 30000\n',
    });
    ({ harness, runtime } = hostileCore);
    const hosts = ['127.0.0.1', '10.0.2.2', '169.254.1.2', 'host.containers.internal', ...hostAddresses()];
    const reply = await harness.client().call(
      { topic: 'hostile.probe', arguments: { hostHome: harness.home, hostPort: (listener.address() as AddressInfo).port, hosts } },
      60_000,
    );
    report = ok(reply) as Record<string, unknown>;
  }, 240_000);

  afterAll(async () => {
    await hostileCore?.stop();
    listener?.close();
  }, 60_000);

  const hostile = () => {
    const plugin = harness.core.plugins().find((each) => each.name === 'hostile');
    if (plugin?.container === null || plugin === undefined) throw new Error('the hostile plugin is not running');
    return plugin.container;
  };

  it('runs as the container user with no capabilities, no new privileges and a seccomp filter', () => {
    expect(report['uid']).toBe(10001);
    expect(report['status']).toMatchObject({ CapEff: '0000000000000000', CapPrm: '0000000000000000', CapAmb: '0000000000000000', NoNewPrivs: '1', Seccomp: '2' });
    // Its own pid namespace: the only processes it sees are its own node.
    expect(new Set(report['processes'] as string[])).toEqual(new Set(['/usr/local/bin/node /app/main.mjs']));
  });

  it('cannot write its root filesystem, its socket directory or /data; /tmp is writable but nothing there executes', () => {
    expect(report['writes']).toEqual({
      '/probe': 'EROFS',
      '/etc/probe': 'EROFS',
      '/app/probe': 'EROFS',
      '/app/main.mjs': 'EROFS',
      '/usr/local/bin/node': 'EROFS',
      '/run/carapace/probe': 'EROFS',
      '/data/probe': 'EROFS',
    });
    expect(report['unlinkSocket']).toBe('EROFS');
    expect(report['tmpWrite']).toBe('OK');
    expect(report['execFromTmp']).toEqual({ error: 'EACCES' });
    expect(report['dlopenFromTmp']).toMatchObject({ loaded: false, error: expect.stringMatching(/failed to map segment|operation not permitted/i) });
  });

  it('reaches no network: not the host listener, not the internet, not DNS', () => {
    const network = report['network'] as { interfaces: string[]; connects: Record<string, string>; dns: string };
    expect(network.interfaces).toEqual(['lo']);
    const outcomes = Object.entries(network.connects);
    expect(outcomes.length).toBeGreaterThanOrEqual(5);
    for (const [target, outcome] of outcomes) {
      // Its own loopback refuses; everything else has no route (or no name).
      expect([target, outcome]).toEqual([target, expect.stringMatching(/^(ECONNREFUSED|ENETUNREACH|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN)$/)]);
    }
    expect(network.connects['1.1.1.1:53']).toBe('ENETUNREACH');
    expect(network.dns).not.toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(connectionsToHost).toBe(0);
  });

  it('sees only its own socket, and nothing of another plugin or of the host home', () => {
    expect(report['runCarapace']).toEqual(['plugin.sock']);
    expect(report['data']).toEqual([]);
    const found = report['found'] as string[];
    expect(found.filter((entry) => entry.startsWith('socket '))).toEqual(['socket /run/carapace/plugin.sock']);
    // What the probe itself wrote to /tmp is all there is besides the socket.
    expect(found.filter((entry) => !entry.startsWith('socket '))).toEqual(['file /tmp/addon.node', 'file /tmp/probe', 'file /tmp/run.sh']);
    expect(report['hostHome']).toBe('ENOENT');
    expect(report['echoSocketByPath']).toBe('ENOENT');
    expect(report['echoSocketBeside']).toBe('ENOENT');
    expect(report['echoTokenFile']).toBe('ENOENT');
    // mountinfo names each bind mount's host path: of the Carapace home, only its own socket directory.
    const fromHome = (report['mounts'] as string[]).filter((line) => line.includes(harness.home));
    expect(fromHome).toHaveLength(1);
    expect(fromHome[0]?.split(' ').slice(3, 6)).toEqual([join(harness.layout.sockets, 'hostile'), '/run/carapace', expect.stringMatching(/^ro,/)]);
  });

  it('receives exactly the credentials its manifest names, and holds them in no environment; stdin is closed', () => {
    expect(report['credentialNames']).toEqual(['HOSTILE_TOKEN']);
    expect(report['credentialInEnvironment']).toBe(false);
    expect(report['credentialLikeEnvironment']).toEqual([]);
    expect((report['environNames'] as string[]).filter((name) => !['PATH', 'HOME', 'HOSTNAME', 'TERM', 'container'].includes(name))).toEqual([]);
    const environ = String(report['environ']);
    for (const value of allValues) expect(environ).not.toContain(value);
    // The reply is sanitized on its way out: a leak would show as a redaction marker instead.
    expect(JSON.stringify(report)).not.toContain('REDACTED');
    expect(report['stdinAgain']).toEqual({ bytes: 0 });
  });

  it('is confined as seen from the host: read-only root, no network, one read-only socket mount, no storage', async () => {
    const container = hostile();
    const seen = await runtime.inspect(container.id);
    expect(seen).toMatchObject({ readOnlyRootfs: true, networkMode: 'none', privileged: false, noNewPrivileges: true, capAdd: [] });
    expect(seen.capDrop.map((cap) => cap.toUpperCase())).toContain('ALL');
    const binds = seen.mounts.filter((mount) => mount.type !== 'tmpfs');
    expect(binds).toEqual([expect.objectContaining({ type: 'bind', source: join(harness.layout.sockets, 'hostile'), target: '/run/carapace', readOnly: true })]);
    // Podman adds read-only tmpfs at /run and /var/tmp for a read-only root; /tmp is the one writable place.
    const tmpfs = seen.mounts.filter((mount) => mount.type === 'tmpfs');
    expect(tmpfs.filter((mount) => !mount.readOnly).map((mount) => mount.target)).toEqual(['/tmp']);
    for (const mount of tmpfs) expect([mount.target, mount.options]).toEqual([mount.target, expect.arrayContaining(['noexec', 'nosuid', 'nodev'])]);
    expect(seen.mounts.some((mount) => mount.target === '/data')).toBe(false);

    // Nothing of the credential store, nor any other plugin's directory, is in the container's config.
    const inspected = await rawInspectText(podmanSocket(), container.id);
    expect(inspected).not.toContain(harness.layout.credentials);
    expect(inspected).not.toContain(join(harness.layout.sockets, 'echo'));
    for (const value of allValues) expect(inspected).not.toContain(value);
    // The container's first process, read from the host.
    const { State } = await new Docker({ socketPath: podmanSocket() }).getContainer(container.id).inspect();
    const hostEnviron = await readFile(`/proc/${String(State.Pid)}/environ`, 'utf8');
    expect(hostEnviron).toContain('PATH=');
    for (const value of allValues) expect(hostEnviron).not.toContain(value);
  });

  it('leaves the core serving the other plugins', async () => {
    expect(ok(await harness.client().call({ topic: 'echo.echo', arguments: { text: 'after the probe' } }, 10_000))).toEqual({ text: 'after the probe' });
    expect(ok(await harness.client().call({ topic: 'hostile.ping', arguments: {} }, 10_000))).toEqual({ pong: true });
  });
});

function ok(reply: WireReply): unknown {
  if (!reply.ok) throw new Error(`expected a result, got ${reply.error.code}: ${reply.error.message}`);
  return reply.result;
}

/** The host's own non-loopback IPv4 addresses: a container on the host network could reach the listener there. */
function hostAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .filter((entry) => entry.family === 'IPv4' && !entry.internal)
    .map((entry) => entry.address);
}
