import { chmod, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CarapaceError } from '../errors.js';
import { generateSigningKey } from './signing-key.js';
import {
  EMPTY_TRUST_POLICY,
  loadTrustedRoot,
  loadTrustPolicy,
  parseTrustPolicy,
  saveTrustPolicy,
  toSubjectMatcher,
  trustedRootPath,
  type TrustPolicy,
} from './trust-policy.js';

const key = generateSigningKey();
const valid = {
  version: 1,
  keys: [{ id: 'local', publicKeyPem: key.publicKeyPem }],
  keyless: [
    { issuer: 'https://token.actions.githubusercontent.com', subject: 'https://github.com/acme/p/.github/workflows/r.yml@refs/heads/main' },
    { issuer: 'https://accounts.google.com', subjectPattern: '.*@acme\\.example' },
  ],
  requireTransparencyLog: true,
  requireTimestamp: false,
  trustedRootFile: 'trusted-root.json',
};

function issuesOf(json: unknown): string[] {
  try {
    parseTrustPolicy(json, 'policy.json');
  } catch (error) {
    expect((error as CarapaceError).code).toBe('TRUST_POLICY_INVALID');
    expect((error as CarapaceError).message).toContain('policy.json');
    return ((error as CarapaceError).details['issues'] as { path: string }[]).map((issue) => issue.path);
  }
  throw new Error('the policy parsed');
}

describe('parseTrustPolicy', () => {
  it('keeps a valid policy as written', () => {
    expect(parseTrustPolicy(valid, 'policy.json')).toEqual(valid);
  });

  it('fills defaults: a bare version trusts nothing and requires nothing', () => {
    expect(parseTrustPolicy({ version: 1 }, 'policy.json')).toEqual(EMPTY_TRUST_POLICY);
  });

  it('names every bad field, unknown ones included', () => {
    const paths = issuesOf({
      version: 2,
      keys: [{ id: '../etc', publicKeyPem: 'not a key' }, { id: 'x', publicKeyPem: key.publicKeyPem, extra: 1 }],
      keyless: [{ issuer: 'https://i', subject: 's', subjectPattern: 's' }, { issuer: 'https://i' }, { issuer: 'https://i', subjectPattern: '(' }],
      requireTransparencyLogs: true,
    });
    expect(paths).toEqual(
      expect.arrayContaining(['version', 'keys.0.id', 'keys.0.publicKeyPem', 'keys.1.extra', 'keyless.0', 'keyless.1', 'keyless.2.subjectPattern', 'requireTransparencyLogs']),
    );
  });

  it('refuses a private key, a duplicate id and the same key twice', () => {
    expect(issuesOf({ version: 1, keys: [{ id: 'a', publicKeyPem: key.privateKeyPem }] })).toEqual(['keys.0.publicKeyPem']);
    const other = generateSigningKey();
    expect(
      issuesOf({ version: 1, keys: [{ id: 'a', publicKeyPem: key.publicKeyPem }, { id: 'a', publicKeyPem: other.publicKeyPem }] }),
    ).toEqual(['keys.1.id']);
    expect(
      issuesOf({ version: 1, keys: [{ id: 'a', publicKeyPem: key.publicKeyPem }, { id: 'b', publicKeyPem: key.publicKeyPem }] }),
    ).toEqual(['keys.1.publicKeyPem']);
  });
});

describe('toSubjectMatcher', () => {
  it('anchors the pattern at both ends, around alternations too', () => {
    const matcher = toSubjectMatcher('.*@acme\\.example|ci@acme\\.test');
    expect(matcher.test('dev@acme.example')).toBe(true);
    expect(matcher.test('dev@acme.example.evil.org')).toBe(false);
    expect(matcher.test('xci@acme.test')).toBe(false);
  });
});

describe('policy files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'carapace-policy-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a missing file is the empty policy', async () => {
    expect(await loadTrustPolicy(join(dir, 'policy.json'))).toEqual(EMPTY_TRUST_POLICY);
  });

  it('saves 0600 and loads back the same policy', async () => {
    const file = join(dir, 'policy.json');
    await saveTrustPolicy(file, valid as TrustPolicy);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await loadTrustPolicy(file)).toEqual(valid);
  });

  it('never writes a policy that does not parse, and leaves the old one in place', async () => {
    const file = join(dir, 'policy.json');
    await saveTrustPolicy(file, valid as TrustPolicy);
    const before = await readFile(file, 'utf8');
    const broken = { ...valid, keys: [{ id: 'bad id', publicKeyPem: key.publicKeyPem }] } as TrustPolicy;
    await expect(saveTrustPolicy(file, broken)).rejects.toMatchObject({ code: 'TRUST_POLICY_INVALID' });
    expect(await readFile(file, 'utf8')).toBe(before);
  });

  it('refuses a symlinked or group-writable policy file, and JSON that is not JSON', async () => {
    const real = join(dir, 'real.json');
    await writeFile(real, JSON.stringify(valid), { mode: 0o600 });
    await symlink(real, join(dir, 'link.json'));
    await expect(loadTrustPolicy(join(dir, 'link.json'))).rejects.toMatchObject({ code: 'HOME_INSECURE' });
    await chmod(real, 0o620);
    await expect(loadTrustPolicy(real)).rejects.toMatchObject({ code: 'HOME_INSECURE' });
    await writeFile(join(dir, 'broken.json'), '{"version": 1,', { mode: 0o600 });
    await expect(loadTrustPolicy(join(dir, 'broken.json'))).rejects.toMatchObject({ code: 'TRUST_POLICY_INVALID' });
  });

  it('resolves trustedRootFile beside the policy and loads it; a named root that is missing is an error', async () => {
    const file = join(dir, 'policy.json');
    const policy = parseTrustPolicy(valid, file);
    expect(trustedRootPath(policy, file)).toBe(join(dir, 'trusted-root.json'));
    await expect(loadTrustedRoot(policy, file)).rejects.toMatchObject({ code: 'TRUST_POLICY_INVALID' });
    await writeFile(join(dir, 'trusted-root.json'), '{"mediaType":"x"}', { mode: 0o600 });
    expect(await loadTrustedRoot(policy, file)).toEqual({ mediaType: 'x' });
    expect(await loadTrustedRoot(EMPTY_TRUST_POLICY, file)).toBeUndefined();
  });
});
