import { randomUUID } from 'node:crypto';
import type { CallerSession } from '../core/pipeline/envelope.js';

/** Who connects on the caller socket: the owner of the home (the socket file is 0600). */
export const OPERATOR = { source: 'operator', group: 'operator' } as const;
/** Plugin containers that make calls of their own; granted nothing unless the policy says so. */
export const PLUGIN_GROUP = 'plugin';

const MAX_SESSIONS = 4096;

/**
 * One session per caller connection, keyed by the routing id the transport assigned. The frame
 * has no say in any of it. Bounded: the oldest sessions are forgotten first (a forgotten
 * connection that speaks again simply gets a new session id).
 */
export class CallerSessions {
  private readonly sessions = new Map<string, CallerSession>();

  /** The connection's session, and whether this call created it (an `agent.started`). */
  sessionFor(peerId: string): { readonly session: CallerSession; readonly isNew: boolean } {
    const known = this.sessions.get(peerId);
    if (known !== undefined) return { session: known, isNew: false };
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const session: CallerSession = { ...OPERATOR, sessionId: randomUUID() };
    this.sessions.set(peerId, session);
    return { session, isNew: true };
  }
}
