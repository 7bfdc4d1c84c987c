import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../test/support/pipeline-fakes.js';
import { CarapaceError } from '../../errors.js';
import { toAccessPolicy } from './access-policy.js';
import { verifyAuthorized } from './authorize.js';
import { constructEnvelope } from './envelope.js';
import { CallRateLimiter } from './rate-limit.js';

const clock = new FakeClock();
const policy = toAccessPolicy({ agents: ['echo.*'] });
const envelope = (group: string, topic = 'echo.say') =>
  constructEnvelope({ topic, correlation: 'c', arguments: {} }, { source: 'agent-1', group, sessionId: 's' }, clock, () => 'id');

function codeOf(action: () => void): string | undefined {
  try {
    action();
  } catch (error) {
    return error instanceof CarapaceError ? error.code : 'not a CarapaceError';
  }
  return undefined;
}

describe('verifyAuthorized', () => {
  it('checks the group before spending a token', () => {
    const limiter = new CallRateLimiter({ perTool: { capacity: 2, refillPerSecond: 1 }, perCaller: { capacity: 2, refillPerSecond: 1 } }, clock);
    for (let call = 0; call < 5; call += 1) expect(codeOf(() => verifyAuthorized(envelope('strangers'), policy, limiter))).toBe('UNAUTHORIZED');
    expect(codeOf(() => verifyAuthorized(envelope('agents'), policy, limiter))).toBeUndefined();
    expect(codeOf(() => verifyAuthorized(envelope('agents'), policy, limiter))).toBeUndefined();
    expect(codeOf(() => verifyAuthorized(envelope('agents'), policy, limiter))).toBe('RATE_LIMITED');
  });
});
