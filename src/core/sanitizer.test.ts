import { describe, expect, it } from 'vitest';
import { createSanitizer, MIN_EXACT_SECRET_CHARS } from './sanitizer.js';
import { SECRET_PATTERNS } from './secret-patterns.js';

const { text, json } = createSanitizer([]);

// Fixtures are built from parts so that secret scanners do not flag this file.
const anthropic = `sk-ant-api03-${'Ab3_'.repeat(20)}xyz`;
const openai = `sk-${'aB3d'.repeat(12)}`;
const openaiProject = `sk-proj-${'Zx9-'.repeat(30)}Q`;
const awsKeyId = `AKIA${'IOSFODNN7EXAMPLE'}`;
const awsSessionKeyId = `ASIA${'Y34FZKBOKMUTVV7A'}`;
const awsSecret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const githubTokens = ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'].map((prefix) => `${prefix}${'a1B2c3D4e5'.repeat(4)}`);
const githubPat = `github_pat_11ABCDEFG0${'x_Y9'.repeat(15)}`;
const slackTokens = ['xoxb', 'xoxa', 'xoxp', 'xoxo', 'xoxs', 'xoxr'].map((prefix) => `${prefix}-1234567890-0987654321-AbCdEf`);
const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
const pem = ['-----BEGIN RSA PRIVATE KEY-----', 'MIIEowIBAAKCAQEA7bq+abc/def==', 'Proc-Type: 4,ENCRYPTED', '-----END RSA PRIVATE KEY-----'].join('\n');

describe('createSanitizer', () => {
  it.each<[string, string]>([
    ['anthropic', anthropic],
    ['openai', openai],
    ['openai', openaiProject],
    ['aws-access-key', awsKeyId],
    ['aws-access-key', awsSessionKeyId],
    ['github', githubPat],
    ['jwt', jwt],
    ['private-key', pem],
    ...githubTokens.map((token): [string, string] => ['github', token]),
    ...slackTokens.map((token): [string, string] => ['slack', token]),
  ])('redacts %s keys', (kind, secret) => {
    expect(text(`before ${secret} after`)).toBe(`before [REDACTED:${kind}] after`);
  });

  it('has a sample above for every pattern kind, so the fast path\'s anchor is tested for each', () => {
    const sampled = new Set(['anthropic', 'openai', 'aws-access-key', 'github', 'jwt', 'private-key', 'slack', 'bearer', 'aws-secret-key']);
    expect(SECRET_PATTERNS.map((pattern) => pattern.kind).filter((kind) => !sampled.has(kind))).toEqual([]);
    expect(text('AUTHORIZATION: BEARER abc123def456ghi')).toBe('AUTHORIZATION: BEARER [REDACTED:bearer]');
    expect(text(`AWS_SECRET_ACCESS_KEY=${awsSecret}`)).toBe('AWS_SECRET_ACCESS_KEY=[REDACTED:aws-secret-key]');
  });

  it('finds a credential value in every string, not only every other one (no RegExp state between calls)', () => {
    const withSecret = createSanitizer(['hunter2-very-secret'.replace('secret', 'sekret')]);
    for (let index = 0; index < 4; index += 1) expect(withSecret.text('x hunter2-very-sekret y')).toBe('x [REDACTED:credential] y');
  });

  it('keeps labels and redacts only the Bearer token and the labelled AWS secret', () => {
    expect(text('Authorization: Bearer abc123def456ghi')).toBe('Authorization: Bearer [REDACTED:bearer]');
    expect(text(`aws_secret_access_key = ${awsSecret}`)).toBe('aws_secret_access_key = [REDACTED:aws-secret-key]');
    expect(text(`{"SecretAccessKey":"${awsSecret}"}`)).toBe('{"SecretAccessKey":"[REDACTED:aws-secret-key]"}');
  });

  it('redacts a 40-character secret next to an AWS key id, in text and in sibling JSON fields', () => {
    expect(text(`${awsKeyId} ${awsSecret}`)).toBe('[REDACTED:aws-access-key] [REDACTED:aws-secret-key]');
    expect(json({ creds: { AccessKeyId: awsKeyId, SecretAccessKey: awsSecret, Token: 'short' } })).toEqual({
      creds: { AccessKeyId: '[REDACTED:aws-access-key]', SecretAccessKey: '[REDACTED:aws-secret-key]', Token: 'short' },
    });
  });

  it('leaves a 40-character value alone when no AWS key id is near, and never touches a git SHA', () => {
    expect(text(`checksum ${awsSecret}`)).toBe(`checksum ${awsSecret}`);
    const sha = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';
    expect(text(`${awsKeyId} commit ${sha}`)).toBe(`[REDACTED:aws-access-key] commit ${sha}`);
  });

  it('redacts a private key cut off before its END line without eating the rest of a JSON line', () => {
    const line = JSON.stringify({ msg: pem.slice(0, 60), level: 30 });
    expect(JSON.parse(text(line))).toEqual({ msg: '[REDACTED:private-key]', level: 30 });
  });

  it('does not flag ordinary text', () => {
    for (const prose of [
      'the prefix sk- alone',
      'see task-list and desk-organizer-2000-deluxe-edition-v2',
      'sk-is-the-prefix-used-for-openai-api-keys',
      'the bearer of this letter, Bearer authentication',
      'xoxo, love',
      'AKIA is the prefix of an AWS key id',
      'eyJ is how base64 JSON starts',
      '-----BEGIN PUBLIC KEY----- is fine',
      'ghp_short',
    ]) {
      expect(text(prose)).toBe(prose);
    }
  });

  it('redacts the exact credential values, longest first, also JSON-escaped', () => {
    const sanitizer = createSanitizer(['hunter22', 'hunter22-extended', 'quo"te\\d']);
    expect(sanitizer.text('pw hunter22-extended and hunter22.')).toBe('pw [REDACTED:credential] and [REDACTED:credential].');
    expect(sanitizer.text(JSON.stringify({ v: 'quo"te\\d' }))).toBe('{"v":"[REDACTED:credential]"}');
    expect(sanitizer.text('a.b*c+d? (regex) hunter2')).toBe('a.b*c+d? (regex) hunter2');
  });

  it(`ignores credential values shorter than ${String(MIN_EXACT_SECRET_CHARS)} characters, and says how many`, () => {
    const sanitizer = createSanitizer(['abc', 'port', 'longenough']);
    expect(sanitizer.ignoredSecrets).toBe(2);
    expect(sanitizer.text('abc port longenough')).toBe('abc port [REDACTED:credential]');
  });

  it('sanitizes every string of a JSON value, keys included, without touching other values', () => {
    const sanitizer = createSanitizer(['s3cr3t-value']);
    const input = { list: ['ok', `tok ${jwt}`, 3, null, true], [`key-s3cr3t-value`]: { nested: 's3cr3t-value' } };
    expect(sanitizer.json(input)).toEqual({
      list: ['ok', 'tok [REDACTED:jwt]', 3, null, true],
      'key-[REDACTED:credential]': { nested: '[REDACTED:credential]' },
    });
    expect(input.list[1]).toContain('eyJ');
  });

  it('copies a __proto__ key as data, never as a prototype', () => {
    const parsed = JSON.parse('{"__proto__":{"polluted":true}}') as { readonly [key: string]: never };
    const copy = json(parsed) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.hasOwn(copy, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
