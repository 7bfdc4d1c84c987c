import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECURITY_PROPERTIES } from '../../src/core/container-observation.js';
import type { CheckLine } from '../../src/doctor/check-line.js';
import { podmanSocket } from '../support/podman.js';
import { freshHome, runCarapace } from '../support/run-cli-in-process.js';
import { startWeakeningProxy, type CreateBody } from '../support/weakening-proxy.js';

/** The create request's bind list; every hardened create has one (the socket directory). */
function binds(body: CreateBody): string[] {
  return body.HostConfig?.['Binds'] as string[];
}

/** An empty host directory a weakened runtime mounts where the spec has no storage. */
let extraDir = '';
beforeAll(async () => {
  extraDir = await mkdtemp(join(tmpdir(), 'carapace-extra-mount-'));
});
afterAll(async () => {
  await rm(extraDir, { recursive: true, force: true });
});

interface DoctorJson {
  readonly ok: boolean;
  readonly checks: CheckLine[];
}

async function homeUsingSocket(socketPath: string): Promise<string> {
  const home = await freshHome();
  await mkdir(home, { mode: 0o700 });
  await writeFile(join(home, 'config.toml'), `[runtime]\nsocket = "${socketPath}"\n`, { mode: 0o600 });
  return home;
}

describe('carapace doctor on a real Podman', () => {
  it('passes every check, each security property inspected and probed by the canary', async () => {
    const home = await homeUsingSocket(podmanSocket());
    const run = await runCarapace(['--json', '--home', home, 'doctor']);
    const report = JSON.parse(run.stdout) as DoctorJson;
    expect(report.checks.filter((line) => line.status === 'fail')).toEqual([]);
    expect(run.status).toBe(0);
    expect(report.ok).toBe(true);
    const passed = report.checks.filter((line) => line.status === 'pass').map((line) => line.name);
    expect(passed).toEqual(expect.arrayContaining([...SECURITY_PROPERTIES, 'Node.js', 'Container runtime', 'Credential directory', 'Socket directory']));
    for (const probed of ['Read-only filesystem', 'Network isolation', 'No host environment']) {
      expect(report.checks.find((line) => line.name === probed)?.detail).toBe('enforced (inspected and probed)');
    }
  });

  it('prints PASS lines for a person', async () => {
    const run = await runCarapace(['--home', await homeUsingSocket(podmanSocket()), 'doctor']);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('  PASS  Read-only filesystem: enforced');
    expect(run.stdout).toContain('All checks passed.');
  });

  // Each case is a runtime that silently ignores part of the spec; doctor must name exactly what broke.
  it.each<[string, string, (body: CreateBody) => void]>([
    ['Read-only filesystem', 'drops the read-only root', (body) => void delete body.HostConfig?.['ReadonlyRootfs']],
    ['Network isolation', 'uses the host network', (body) => void (body.HostConfig!['NetworkMode'] = 'host')],
    ['Capabilities dropped', 'keeps capabilities', (body) => void delete body.HostConfig?.['CapDrop']],
    ['No new privileges', 'drops no-new-privileges', (body) => void (body.HostConfig!['SecurityOpt'] = [])],
    ['Non-root user', 'runs as root', (body) => void (body['User'] = '0:0')],
    ['Resource limits', 'drops the pids limit', (body) => void delete body.HostConfig?.['PidsLimit']],
    ['Host mounts limited', 'adds a second bind mount', (body) => void (body.HostConfig!['Binds'] = [...binds(body), '/etc:/host-etc:ro'])],
    ['Host mounts limited', 'makes the socket mount writable', (body) => void (body.HostConfig!['Binds'] = binds(body).map((bind) => bind.replace(/:ro$/, ':rw')))],
    ['Host mounts limited', 'adds a storage mount the spec has none of', (body) => void (body.HostConfig!['Binds'] = [...binds(body), `${extraDir}:/data:rw,nosuid,nodev,noexec`])],
    ['No host environment', 'passes the host environment', (body) => void (body['Env'] = ['OPENAI_API_KEY=from-the-host'])],
  ])('fails and names "%s" when the runtime %s', async (property, _how, weaken) => {
    await using proxy = await startWeakeningProxy(podmanSocket(), weaken);
    const home = await homeUsingSocket(proxy.socketPath);
    const json = await runCarapace(['--json', '--home', home, 'doctor']);
    const report = JSON.parse(json.stdout) as DoctorJson;
    expect(json.status).toBe(1);
    expect(report.ok).toBe(false);
    expect(report.checks.filter((line) => line.status === 'fail').map((line) => line.name)).toContain(property);
    expect(report.checks.find((line) => line.name === 'Container runtime')?.status).toBe('pass');

    const text = await runCarapace(['--home', home, 'doctor']);
    expect(text.status).toBe(1);
    expect(text.stdout).toMatch(new RegExp(`^  FAIL  ${property}: `, 'm'));
    expect(text.stderr).toContain(property);
    expect(text.stderr).toContain('[DOCTOR_CHECKS_FAILED]');
  });

  it('fails the runtime line, not the process, when no runtime answers', async () => {
    const home = await homeUsingSocket('/nonexistent/carapace-test.sock');
    const run = await runCarapace(['--json', '--home', home, 'doctor']);
    expect(run.status).toBe(1);
    const report = JSON.parse(run.stdout) as DoctorJson;
    expect(report.checks.find((line) => line.name === 'Container runtime')).toMatchObject({ status: 'fail' });
    expect(report.checks.find((line) => line.name === 'Canary container')).toMatchObject({ status: 'fail' });
  });
});
