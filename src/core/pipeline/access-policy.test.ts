import { describe, expect, it } from 'vitest';
import { CarapaceError } from '../../errors.js';
import { isAllowed, toAccessPolicy } from './access-policy.js';

describe('access policy', () => {
  const policy = toAccessPolicy({ admin: ['*'], agents: ['echo.*', 'memory.store'], empty: [] });

  it('allows what a grant covers and denies everything else', () => {
    expect(isAllowed(policy, 'admin', 'memory.delete')).toBe(true);
    expect(isAllowed(policy, 'agents', 'echo.say')).toBe(true);
    expect(isAllowed(policy, 'agents', 'memory.store')).toBe(true);
    expect(isAllowed(policy, 'agents', 'memory.delete')).toBe(false);
    expect(isAllowed(policy, 'empty', 'echo.say')).toBe(false);
    expect(isAllowed(policy, 'nobody', 'echo.say')).toBe(false);
    expect(isAllowed(policy, '__proto__', 'echo.say')).toBe(false);
  });

  it('does not let a plugin wildcard match a longer plugin name', () => {
    expect(isAllowed(policy, 'agents', 'echoes.say')).toBe(false);
  });

  it('refuses malformed groups and grants instead of ignoring them', () => {
    for (const grants of [{ agents: ['echo*'] }, { agents: ['*.say'] }, { agents: ['Echo.say'] }, { Agents: ['*'] }]) {
      expect(() => toAccessPolicy(grants)).toThrowError(CarapaceError);
    }
  });
});
