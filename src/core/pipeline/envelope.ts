import { randomUUID } from 'node:crypto';
import type { JsonObject, JsonValue } from '../../wire/json.js';
import type { WireMessage } from '../../wire/message.js';
import type { Clock } from '../clock.js';

/**
 * What the core knows about a connection, from its own state: the container whose socket the
 * frame arrived on, the group the core placed it in, the session it started. None of it comes from
 * the frame, so no container can speak as another.
 */
export interface CallerSession {
  /** The plugin or agent the connection belongs to (the socket's owner), `cli` for `carapace call`. */
  readonly source: string;
  /** The caller group the access policy grants tools to. */
  readonly group: string;
  readonly sessionId: string;
}

export const ENVELOPE_VERSION = 1;

/** A tool call as the core records and routes it: the caller's request plus the core's facts. */
export interface Envelope {
  readonly id: string;
  readonly version: typeof ENVELOPE_VERSION;
  readonly type: 'tool.call';
  readonly topic: string;
  /** From the session, never the frame. */
  readonly source: string;
  /** From the session, never the frame. */
  readonly group: string;
  /** From the session, never the frame. */
  readonly session: string;
  /** When the core received the call, ISO 8601 UTC, from the core's clock. */
  readonly timestamp: string;
  readonly correlation: string;
  readonly arguments: JsonObject;
}

/**
 * A fresh call id: a UUIDv7 (RFC 9562), unique and ordered by the millisecond it was made in. The
 * audit log indexes records by call id, and ordered ids land on the last page of that index where
 * random ones would touch a random page per append. Node's randomUUID (v4, from a pooled buffer)
 * supplies the 74 random bits; its first 48 bits become the time and its version nibble 7.
 * Nothing relies on a call id being secret: a confirmation is answered only on the connection it
 * was asked on.
 */
export function newCallId(now: number = Date.now()): string {
  const time = now.toString(16).padStart(12, '0');
  const random = randomUUID();
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`;
}

/**
 * Stage 1: builds the envelope. Identity (`source`, `group`, `session`) comes only from `session`;
 * the message contributes its topic, correlation and arguments. The envelope and its arguments are
 * frozen, so no later stage or adapter can change what was checked after it was checked.
 */
export function constructEnvelope(message: WireMessage, session: CallerSession, clock: Clock, newId: () => string): Envelope {
  return Object.freeze({
    id: newId(),
    version: ENVELOPE_VERSION,
    type: 'tool.call',
    topic: message.topic,
    source: session.source,
    group: session.group,
    session: session.sessionId,
    timestamp: new Date(clock.now()).toISOString(),
    correlation: message.correlation,
    arguments: deepFreeze(message.arguments),
  });
}

function deepFreeze<T extends JsonValue>(root: T): T {
  const pending: JsonValue[] = [root];
  for (let value = pending.pop(); value !== undefined; value = pending.pop()) {
    if (typeof value !== 'object' || value === null || Object.isFrozen(value)) continue;
    Object.freeze(value);
    // One push per child: spreading a 500,000-item array into push() would overflow the stack.
    for (const child of Array.isArray(value) ? value : Object.values(value)) pending.push(child);
  }
  return root;
}
