import { CarapaceError } from '../../errors.js';
import type { Clock } from '../clock.js';

/** A token bucket's shape: a burst of `capacity` calls, then `refillPerSecond` sustained. */
export interface BucketLimit {
  readonly capacity: number;
  readonly refillPerSecond: number;
}

// Refill arithmetic is in floating point; this absorbs its rounding so that exactly one second at
// one token per second always yields a whole token.
const EPSILON = 1e-9;
const EPSILON_MS = 1e-6;

/** A token bucket over an injected clock. It starts full. */
export class TokenBucket {
  readonly #limit: BucketLimit;
  readonly #clock: Clock;
  #tokens: number;
  #updatedAt: number;

  constructor(limit: BucketLimit, clock: Clock) {
    verifyBucketLimit(limit);
    this.#limit = limit;
    this.#clock = clock;
    this.#tokens = limit.capacity;
    this.#updatedAt = clock.now();
  }

  /** Milliseconds until a token is available: 0 when one is available now. */
  waitMs(): number {
    this.#refill();
    if (this.#tokens >= 1 - EPSILON) return 0;
    return Math.max(1, Math.ceil(((1 - this.#tokens) * 1000) / this.#limit.refillPerSecond - EPSILON_MS));
  }

  /** Takes a token; call only after `waitMs()` returned 0. */
  take(): void {
    this.#refill();
    this.#tokens = Math.max(0, this.#tokens - 1);
  }

  #refill(): void {
    const now = this.#clock.now();
    // A wall clock stepped backwards must not drain the bucket, nor one stepped forward overfill it.
    const elapsedMs = Math.max(0, now - this.#updatedAt);
    this.#tokens = Math.min(this.#limit.capacity, this.#tokens + (elapsedMs * this.#limit.refillPerSecond) / 1000);
    this.#updatedAt = now;
  }
}

export interface RateLimits {
  /** Shared by all callers of one tool: protects the plugin. */
  readonly perTool: BucketLimit;
  /** Shared by all calls of one caller: keeps one caller from starving the others. */
  readonly perCaller: BucketLimit;
}

export type RateDecision = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number; readonly limitedBy: 'tool' | 'caller' };

/** The per-tool and per-caller buckets; a call takes a token from both or from neither. */
export class CallRateLimiter {
  readonly #limits: RateLimits;
  readonly #clock: Clock;
  readonly #tools = new Map<string, TokenBucket>();
  readonly #callers = new Map<string, TokenBucket>();

  constructor(limits: RateLimits, clock: Clock) {
    verifyBucketLimit(limits.perTool);
    verifyBucketLimit(limits.perCaller);
    this.#limits = limits;
    this.#clock = clock;
  }

  /**
   * Takes a token for `caller` calling `topic`. A refused call takes nothing, so a caller that
   * keeps hammering past its limit does not push its own recovery further out, nor drain the tool
   * for others. Buckets exist per declared topic and per caller identity, both bounded sets.
   */
  tryTake(topic: string, caller: string): RateDecision {
    const tool = bucketFor(this.#tools, topic, this.#limits.perTool, this.#clock);
    const own = bucketFor(this.#callers, caller, this.#limits.perCaller, this.#clock);
    const callerWait = own.waitMs();
    if (callerWait > 0) return { ok: false, retryAfterMs: callerWait, limitedBy: 'caller' };
    const toolWait = tool.waitMs();
    if (toolWait > 0) return { ok: false, retryAfterMs: toolWait, limitedBy: 'tool' };
    tool.take();
    own.take();
    return { ok: true };
  }
}

function bucketFor(buckets: Map<string, TokenBucket>, key: string, limit: BucketLimit, clock: Clock): TokenBucket {
  let bucket = buckets.get(key);
  if (bucket === undefined) {
    bucket = new TokenBucket(limit, clock);
    buckets.set(key, bucket);
  }
  return bucket;
}

function verifyBucketLimit(limit: BucketLimit): void {
  if (!Number.isInteger(limit.capacity) || limit.capacity < 1 || !Number.isFinite(limit.refillPerSecond) || limit.refillPerSecond <= 0) {
    throw new CarapaceError('CONFIG_INVALID', `rate limit needs an integer capacity >= 1 and a positive refill rate, got ${JSON.stringify(limit)}`);
  }
}
