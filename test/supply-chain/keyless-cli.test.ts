import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCarapaceHome, type HomeLayout } from '../../src/config/carapace-home.js';
import { startMockSigstore, type MockSigstore } from '../support/sigstore-mock.js';
import { freshHome, runCarapace } from '../support/run-cli-in-process.js';

const ISSUER = 'https://issuer.example.test';
const SUBJECT = 'release@example.com';
const digest = (fill: string): string => `sha256:${fill.repeat(64)}`;
const errorCode = (stdout: string): string => (JSON.parse(stdout) as { error: { code: string } }).error.code;

/**
 * `carapace image sign --keyless` through a real OIDC-style flow against @sigstore/mock's Fulcio,
 * Rekor and TSA (in-process, no network), then `image verify` against a policy that trusts one
 * identity and requires a log entry and a timestamp.
 */
describe('carapace image sign --keyless and verify', () => {
  let mock: MockSigstore;
  let layout: HomeLayout;

  beforeAll(async () => {
    mock = await startMockSigstore();
    layout = await ensureCarapaceHome(await freshHome());
    await writeFile(join(layout.trustDir, 'trusted-root.json'), JSON.stringify(mock.trustedRoot), { mode: 0o600 });
    const policy = { version: 1, keys: [], keyless: [], requireTransparencyLog: true, requireTimestamp: true, trustedRootFile: 'trusted-root.json' };
    await writeFile(layout.trustPolicyFile, JSON.stringify(policy), { mode: 0o600 });
    const added = await carapace('trust', 'identity', 'add', '--issuer', ISSUER, '--subject', SUBJECT);
    expect(added.status).toBe(0);
  });

  afterAll(async () => {
    await mock?.[Symbol.asyncDispose]();
  });

  const carapace = (...args: string[]) => runCarapace(['--home', layout.home, ...args]);
  const signKeyless = (target: string, token: string, viaEnv: boolean) =>
    runCarapace(
      ['--json', '--home', layout.home, 'image', 'sign', target, '--keyless', '--fulcio-url', mock.fulcioURL, '--rekor-url', mock.rekorURL, '--tsa-url', mock.tsaURL, ...(viaEnv ? [] : ['--identity-token', token])],
      { env: viaEnv ? { SIGSTORE_ID_TOKEN: token } : {} },
    );

  it('signs with a certificate for the token identity (with log entry and timestamp) and verifies: PASS naming subject and issuer', async () => {
    const signed = await signKeyless(digest('a'), mock.identityToken(SUBJECT, ISSUER), true);
    expect(signed.status).toBe(0);
    expect(JSON.parse(signed.stdout)).toMatchObject({ digest: digest('a'), signer: { kind: 'keyless' }, trusted: true });
    const verified = await carapace('image', 'verify', digest('a'));
    expect(verified).toMatchObject({ status: 0, stdout: `PASS ${digest('a')}: signed by ${SUBJECT} (issuer ${ISSUER})\n` });
  });

  it('refuses another subject (SIGNATURE_IDENTITY_MISMATCH) and another issuer (SIGNATURE_ISSUER_MISMATCH)', async () => {
    expect((await signKeyless(digest('b'), mock.identityToken('mallory@example.com', ISSUER), false)).status).toBe(0);
    const wrongSubject = await runCarapace(['--json', '--home', layout.home, 'image', 'verify', digest('b')]);
    expect([wrongSubject.status, errorCode(wrongSubject.stdout)]).toEqual([8, 'SIGNATURE_IDENTITY_MISMATCH']);

    expect((await signKeyless(digest('c'), mock.identityToken(SUBJECT, 'https://other-issuer.test'), false)).status).toBe(0);
    const wrongIssuer = await runCarapace(['--json', '--home', layout.home, 'image', 'verify', digest('c')]);
    expect([wrongIssuer.status, errorCode(wrongIssuer.stdout)]).toEqual([8, 'SIGNATURE_ISSUER_MISMATCH']);
  });

  it('refuses a revoked identity with TRUST_REVOKED', async () => {
    expect((await carapace('trust', 'revoke', '--identity', SUBJECT)).status).toBe(0);
    const revoked = await runCarapace(['--json', '--home', layout.home, 'image', 'verify', digest('a')]);
    expect([revoked.status, errorCode(revoked.stdout)]).toEqual([8, 'TRUST_REVOKED']);
  });
});
