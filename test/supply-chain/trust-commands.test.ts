import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { homeLayout } from '../../src/config/carapace-home.js';
import { generateSigningKey } from '../../src/trust/signing-key.js';
import { freshHome, runCarapace } from '../support/run-cli-in-process.js';

const DIGEST = `sha256:${'d'.repeat(64)}`;
const json = (stdout: string): Record<string, unknown> => JSON.parse(stdout) as Record<string, unknown>;
const codeOf = (stdout: string): string => (json(stdout)['error'] as { code: string }).code;

let home: string;
let scratch: string;

beforeEach(async () => {
  home = await freshHome();
  scratch = await mkdtemp(join(tmpdir(), 'carapace-trust-cli-'));
});

afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const carapace = (...args: string[]) => runCarapace(['--home', home, ...args]);
const carapaceJson = (...args: string[]) => runCarapace(['--json', '--home', home, ...args]);

describe('carapace image sign and verify a digest', () => {
  it('signs with the local key (created on first need, trusted as "local") and verifies: PASS naming the signer', async () => {
    const signed = await carapace('image', 'sign', DIGEST);
    expect(signed.status).toBe(0);
    expect(signed.stdout).toContain(`signed ${DIGEST} with the local key`);
    const layout = homeLayout(home);
    expect(JSON.parse(await readFile(layout.trustPolicyFile, 'utf8')).keys.map((key: { id: string }) => key.id)).toEqual(['local']);
    const verified = await carapace('image', 'verify', DIGEST);
    expect(verified).toMatchObject({ status: 0 });
    expect(verified.stdout).toMatch(new RegExp(`^PASS ${DIGEST}: signed by key local \\(sha256:[0-9a-f]{64}\\)\\n$`));
  });

  it('refuses an unsigned digest with SIGNATURE_MISSING (exit 8), a bad digest with IMAGE_REFERENCE_INVALID', async () => {
    const missing = await carapaceJson('image', 'verify', DIGEST);
    expect(missing.status).toBe(8);
    expect(codeOf(missing.stdout)).toBe('SIGNATURE_MISSING');
    const traversal = await carapaceJson('image', 'sign', 'sha256:../../../etc/passwd');
    expect(traversal.status).not.toBe(0);
    expect(codeOf(traversal.stdout)).toBe('CLI_USAGE');
  });

  it('signs with --key, warns that the policy does not list it, refuses it (SIGNATURE_UNTRUSTED) until trust key add', async () => {
    const key = generateSigningKey();
    const keyFile = join(scratch, 'signer.pem');
    await writeFile(keyFile, key.privateKeyPem, { mode: 0o600 });
    const signed = await carapaceJson('image', 'sign', DIGEST, '--key', keyFile);
    expect(json(signed.stdout)).toMatchObject({ digest: DIGEST, trusted: false, refusal: 'SIGNATURE_UNTRUSTED', signer: { kind: 'key', fingerprint: key.keyId } });
    expect(codeOf((await carapaceJson('image', 'verify', DIGEST)).stdout)).toBe('SIGNATURE_UNTRUSTED');

    const publicFile = join(scratch, 'signer.pub');
    await writeFile(publicFile, key.publicKeyPem);
    expect((await carapace('trust', 'key', 'add', publicFile, '--id', 'ci')).stdout).toBe(`trusted key ci (${key.keyId})\n`);
    expect((await carapace('image', 'verify', DIGEST)).stdout).toContain(`signed by key ci (${key.keyId})`);
  });

  it('refuses a key file others can read, and a private key given to trust key add', async () => {
    const key = generateSigningKey();
    const keyFile = join(scratch, 'loose.pem');
    await writeFile(keyFile, key.privateKeyPem);
    await chmod(keyFile, 0o644);
    expect(codeOf((await carapaceJson('image', 'sign', DIGEST, '--key', keyFile)).stdout)).toBe('HOME_INSECURE');
    const added = await carapaceJson('trust', 'key', 'add', keyFile, '--id', 'oops');
    expect(codeOf(added.stdout)).toBe('TRUST_POLICY_INVALID');
  });

  it('asks for an identity token for --keyless before contacting anything', async () => {
    const run = await carapaceJson('image', 'sign', DIGEST, '--keyless', '--fulcio-url', 'https://fulcio.invalid', '--rekor-url', 'https://rekor.invalid');
    expect(run.status).toBe(2);
    expect(codeOf(run.stdout)).toBe('CLI_USAGE');
  });
});

describe('carapace trust', () => {
  it('revokes a key, a digest and an identity; lists them with reasons; the next verify is TRUST_REVOKED', async () => {
    await carapace('image', 'sign', DIGEST);
    expect((await carapace('trust', 'revoke', '--digest', DIGEST, '--reason', 'built from a bad commit')).status).toBe(0);
    expect(codeOf((await carapaceJson('image', 'verify', DIGEST)).stdout)).toBe('TRUST_REVOKED');
    await carapace('trust', 'revoke', '--key', 'local');
    await carapace('trust', 'revoke', '--identity', 'mallory@example.com');
    const listed = json((await carapaceJson('trust', 'list')).stdout);
    expect(listed['revoked']).toEqual([
      { kind: 'key', value: 'local', reason: null, at: expect.any(String) },
      { kind: 'identity', value: 'mallory@example.com', reason: null, at: expect.any(String) },
      { kind: 'digest', value: DIGEST, reason: 'built from a bad commit', at: expect.any(String) },
    ]);
    const text = (await carapace('trust', 'list')).stdout;
    expect(text).toContain(`  digest ${DIGEST}  (built from a bad commit)`);
    expect(text).toMatch(/keys\n {2}local {2}sha256:[0-9a-f]{64}\n/);
  });

  it('takes exactly one thing to revoke, and only a well-formed digest', async () => {
    expect((await carapaceJson('trust', 'revoke')).status).toBe(2);
    expect((await carapaceJson('trust', 'revoke', '--key', 'a', '--identity', 'b')).status).toBe(2);
    expect(codeOf((await carapaceJson('trust', 'revoke', '--digest', 'sha256:abc')).stdout)).toBe('IMAGE_REFERENCE_INVALID');
  });

  it('adds keyless identities, exact or by anchored pattern, and refuses a bad pattern or both forms', async () => {
    expect((await carapace('trust', 'identity', 'add', '--issuer', 'https://issuer.example', '--subject', 'ci@example.com')).status).toBe(0);
    expect((await carapace('trust', 'identity', 'add', '--issuer', 'https://issuer.example', '--subject-pattern', '.*@example\\.com')).status).toBe(0);
    expect((await carapaceJson('trust', 'identity', 'add', '--issuer', 'https://issuer.example', '--subject', 'a', '--subject-pattern', 'b')).status).toBe(2);
    expect(codeOf((await carapaceJson('trust', 'identity', 'add', '--issuer', 'https://issuer.example', '--subject-pattern', '(')).stdout)).toBe('TRUST_POLICY_INVALID');
    const listed = json((await carapaceJson('trust', 'list')).stdout)['policy'] as { keyless: unknown[] };
    expect(listed.keyless).toEqual([
      { issuer: 'https://issuer.example', subject: 'ci@example.com' },
      { issuer: 'https://issuer.example', subjectPattern: '.*@example\\.com' },
    ]);
  });

  it('refuses a duplicate key id with TRUST_POLICY_INVALID and leaves the policy as it was', async () => {
    const publicFile = join(scratch, 'a.pub');
    await writeFile(publicFile, generateSigningKey().publicKeyPem);
    await carapace('trust', 'key', 'add', publicFile, '--id', 'a');
    const before = await readFile(homeLayout(home).trustPolicyFile, 'utf8');
    const other = join(scratch, 'b.pub');
    await writeFile(other, generateSigningKey().publicKeyPem);
    expect(codeOf((await carapaceJson('trust', 'key', 'add', other, '--id', 'a')).stdout)).toBe('TRUST_POLICY_INVALID');
    expect(await readFile(homeLayout(home).trustPolicyFile, 'utf8')).toBe(before);
  });
});
