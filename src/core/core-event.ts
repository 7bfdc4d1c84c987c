/**
 * Lifecycle events the core publishes on its event bus. They carry facts the core holds, never a
 * call's arguments or results: a subscriber learns that something happened, not what was said.
 */
export const CORE_EVENT_TYPES = ['plugin.ready', 'plugin.stopped', 'agent.started', 'message.inbound'] as const;
export type CoreEventType = (typeof CORE_EVENT_TYPES)[number];

export type CoreEvent =
  | { readonly type: 'plugin.ready'; readonly at: string; readonly plugin: string; readonly container: string; readonly tools: readonly string[] }
  | { readonly type: 'plugin.stopped'; readonly at: string; readonly plugin: string; readonly reason: string; readonly exitCode: number | null }
  /** A new caller connection (the CLI, an agent) made its first call. */
  | { readonly type: 'agent.started'; readonly at: string; readonly source: string; readonly group: string; readonly session: string }
  /** A call frame arrived; the topic only, and only if the frame had a well-formed one. */
  | { readonly type: 'message.inbound'; readonly at: string; readonly source: string; readonly session: string; readonly topic: string | null };
