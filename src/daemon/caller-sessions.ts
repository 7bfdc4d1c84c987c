import { randomUUID } from 'node:crypto';
import type { CallerSession } from '../core/pipeline/envelope.js';
import type { PushToCaller } from './confirmation-desk.js';

/** Who a caller socket's connections are, as a fact of which socket they reached. */
export interface CallerIdentity {
  readonly source: string;
  readonly group: string;
}

/** Who connects on the caller socket: the owner of the home (the socket file is 0600). */
export const OPERATOR: CallerIdentity = { source: 'operator', group: 'operator' };
/** Agents, through `carapace mcp` on the agent socket: the plugins' tools, confirmed by their user. */
export const AGENT: CallerIdentity = { source: 'agent', group: 'agent' };
/** Plugin containers that make calls of their own; granted nothing unless the policy says so. */
export const PLUGIN_GROUP = 'plugin';

const MAX_SESSIONS = 4096;

/**
 * One session per connection on one caller socket, keyed by the routing id the transport
 * assigned; the identity is the socket's. The frame has no say in any of it. Bounded: the oldest
 * sessions are forgotten first (a forgotten connection that speaks again gets a new session id).
 */
export class CallerSessions {
  private readonly byPeer = new Map<string, CallerSession>();
  private readonly pushes = new Map<string, PushToCaller>();

  constructor(
    private readonly identity: CallerIdentity,
    /** Told when a session is forgotten, so nothing keeps answering for it. */
    private readonly onForgotten: (sessionId: string) => void = () => undefined,
  ) {}

  /** The connection's session, and whether this frame created it (an `agent.started`). */
  sessionFor(peerId: string, push: PushToCaller): { readonly session: CallerSession; readonly isNew: boolean } {
    const known = this.byPeer.get(peerId);
    if (known !== undefined) return { session: known, isNew: false };
    if (this.byPeer.size >= MAX_SESSIONS) this.forgetOldest();
    const session: CallerSession = { ...this.identity, sessionId: randomUUID() };
    this.byPeer.set(peerId, session);
    this.pushes.set(session.sessionId, push);
    return { session, isNew: true };
  }

  /** How to send an unsolicited frame (a confirmation prompt) to the session's connection. */
  pushTo(sessionId: string): PushToCaller | undefined {
    return this.pushes.get(sessionId);
  }

  private forgetOldest(): void {
    const [peerId, session] = this.byPeer.entries().next().value ?? [];
    if (peerId === undefined || session === undefined) return;
    this.byPeer.delete(peerId);
    this.pushes.delete(session.sessionId);
    this.onForgotten(session.sessionId);
  }
}
