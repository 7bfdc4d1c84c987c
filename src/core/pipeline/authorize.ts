import { CarapaceError } from '../../errors.js';
import { isAllowed, type AccessPolicy } from './access-policy.js';
import type { Envelope } from './envelope.js';
import type { CallRateLimiter } from './rate-limit.js';

/**
 * Stage 4: the caller's group must hold a grant for the topic (`UNAUTHORIZED`), then the call must
 * fit both the tool's and the caller's token bucket (`RATE_LIMITED`, with `details.retryAfterMs`).
 * Both look only at the envelope's session facts, never at anything the frame said about itself.
 * The group check comes first, so a refused call spends no tokens.
 */
export function verifyAuthorized(envelope: Envelope, policy: AccessPolicy, limiter: CallRateLimiter): void {
  if (!isAllowed(policy, envelope.group, envelope.topic)) {
    throw new CarapaceError('UNAUTHORIZED', `group ${envelope.group} may not call ${envelope.topic}`, {
      details: { group: envelope.group, topic: envelope.topic },
    });
  }
  const rate = limiter.tryTake(envelope.topic, envelope.source);
  if (!rate.ok) {
    throw new CarapaceError('RATE_LIMITED', `${rate.limitedBy} rate limit reached for ${envelope.topic}; retry after ${String(rate.retryAfterMs)} ms`, {
      details: { retryAfterMs: rate.retryAfterMs, limitedBy: rate.limitedBy, topic: envelope.topic },
    });
  }
}
