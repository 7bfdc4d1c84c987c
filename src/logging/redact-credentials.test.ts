import { describe, expect, it } from 'vitest';
import { isCredentialKey, redactCredentialFields } from './redact-credentials.js';

describe('isCredentialKey', () => {
  it('matches credential names in any common spelling and leaves ordinary keys alone', () => {
    for (const key of ['password', 'dbPassword', 'client_secret', 'accessToken', 'X-Api-Key', 'Proxy-Authorization', 'credentials', 'set-cookie', 'private_key']) {
      expect(isCredentialKey(key)).toBe(true);
    }
    for (const key of ['plugin', 'tokens', 'keyId', 'path', 'level']) expect(isCredentialKey(key)).toBe(false);
  });
});

describe('redactCredentialFields', () => {
  it('copies without modifying the input', () => {
    const input = { user: { password: 'p' }, list: [{ token: 't' }] };
    expect(redactCredentialFields(input)).toEqual({ user: { password: '[redacted]' }, list: [{ token: '[redacted]' }] });
    expect(input.user.password).toBe('p');
  });

  it('cuts cycles and very deep nesting instead of writing them unchecked', () => {
    const cyclic: Record<string, unknown> = { name: 'a' };
    cyclic['self'] = cyclic;
    expect(redactCredentialFields(cyclic)).toEqual({ name: 'a', self: '[circular]' });
    let deep: Record<string, unknown> = { token: 'deep-secret' };
    for (let level = 0; level < 20; level += 1) deep = { inner: deep };
    expect(JSON.stringify(redactCredentialFields(deep))).not.toContain('deep-secret');
  });

  it('serializes errors with their message, stack and scrubbed fields, causes included', () => {
    const cause = Object.assign(new Error('inner'), { authorization: 'Bearer x' });
    const error = new Error('outer', { cause });
    expect(redactCredentialFields({ err: error })).toMatchObject({
      err: { type: 'Error', message: 'outer', cause: { message: 'inner', authorization: '[redacted]' } },
    });
  });
});
