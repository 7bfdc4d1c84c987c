import { writeFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HomeLayout } from '../../src/config/carapace-home.js';
import type { CheckLine } from '../../src/doctor/check-line.js';
import { runCarapace } from '../support/run-cli-in-process.js';
import { addUserPlugin, gateHome, startCoreIn } from './gate-support.js';

interface DoctorJson {
  readonly ok: boolean;
  readonly checks: CheckLine[];
}

const doctor = async (layout: HomeLayout): Promise<{ status: number; report: DoctorJson }> => {
  const run = await runCarapace(['--json', '--home', layout.home, 'doctor']);
  return { status: run.status, report: JSON.parse(run.stdout) as DoctorJson };
};
const linesNamed = (report: DoctorJson, name: string): CheckLine[] => report.checks.filter((line) => line.name === name);

/** The three supply-chain lines of `carapace doctor`, on a real home and a real Podman. */
describe('carapace doctor: container image, signature and revocation lines', () => {
  let fresh: HomeLayout;
  let started: HomeLayout;

  beforeAll(async () => {
    fresh = await gateHome();
    started = await gateHome();
    const core = await startCoreIn(started);
    await core.stopAll();
  }, 120_000);

  it('on a fresh home: revocation list absent (nothing revoked), built-ins not pinned yet (INFO), no FAIL', async () => {
    const { status, report } = await doctor(fresh);
    expect(report.checks.filter((line) => line.status === 'fail')).toEqual([]);
    expect(status).toBe(0);
    expect(linesNamed(report, 'Revocation list')).toEqual([{ status: 'pass', name: 'Revocation list', detail: expect.stringMatching(/^loaded: none \(.* is absent: nothing is revoked\)$/) }]);
    expect(linesNamed(report, 'Container image').map((line) => line.status)).toEqual(['info', 'info']);
  });

  it('after a start: each plugin digest matches and its signature verifies, naming the signer', async () => {
    const { status, report } = await doctor(started);
    expect(status).toBe(0);
    const images = linesNamed(report, 'Container image');
    expect(images.map((line) => line.status)).toEqual(['pass', 'pass']);
    expect(images[0]?.detail).toMatch(/^digest matches config: echo localhost\/carapace\/plugin-echo@sha256:[0-9a-f]{64}$/);
    const signatures = linesNamed(report, 'Cosign signature');
    expect(signatures.map((line) => line.status)).toEqual(['pass', 'pass']);
    expect(signatures[1]?.detail).toMatch(/^verified: memory signed by key local \(sha256:[0-9a-f]{64}\)$/);
  });

  it('fails the signature lines once the key is revoked, an unpinned plugin of the user, and a revocation list that does not parse', async () => {
    expect((await runCarapace(['--home', started.home, 'trust', 'revoke', '--key', 'local', '--reason', 'test'])).status).toBe(0);
    await addUserPlugin(started, 'mine', 'localhost/carapace-test/mine:1');
    let { status, report } = await doctor(started);
    expect(status).not.toBe(0);
    expect(linesNamed(report, 'Revocation list')[0]).toMatchObject({ status: 'pass', detail: expect.stringMatching(/^loaded: 1 keys, 0 identities, 0 digests revoked/) });
    expect(linesNamed(report, 'Cosign signature').map((line) => [line.status, line.detail.endsWith('[TRUST_REVOKED]')])).toEqual([
      ['fail', true],
      ['fail', true],
    ]);
    expect(linesNamed(report, 'Container image').find((line) => line.detail.startsWith('mine:'))).toMatchObject({ status: 'fail', detail: expect.stringContaining('[IMAGE_NOT_PINNED]') });

    await writeFile(started.revocationFile, '{"keys": [', { mode: 0o600 });
    ({ status, report } = await doctor(started));
    expect(linesNamed(report, 'Revocation list')[0]).toMatchObject({ status: 'fail', detail: expect.stringContaining('[TRUST_POLICY_INVALID]') });
  });
});
