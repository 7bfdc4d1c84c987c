/**
 * Name formats shared by manifests and wire messages. A topic is `plugin.tool`, so both halves use
 * one lowercase identifier shape: no dots (the topic would become ambiguous), no uppercase (two
 * plugins that differ only in case would look the same in a prompt or a log), bounded length.
 */

/** A plugin or tool name: a lowercase letter, then lowercase letters, digits, `_` or `-`. */
export const IDENTIFIER_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;

/** `plugin.tool`, both halves identifiers: `memory.store`, `echo.say`. */
export const TOPIC_PATTERN = /^[a-z][a-z0-9_-]{0,63}\.[a-z][a-z0-9_-]{0,63}$/;

/**
 * A caller's correlation token, echoed in the reply. Bounded and restricted to characters that are
 * inert in logs, terminals and SQL, since the core writes it verbatim into all three.
 */
export const CORRELATION_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** The topic under which `tool` of `plugin` is called. */
export function toTopic(plugin: string, tool: string): string {
  return `${plugin}.${tool}`;
}
