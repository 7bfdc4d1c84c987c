import type { WireReply } from '../../wire/message.js';
import type { Sanitizer } from '../sanitizer.js';
import type { Decision } from './decision.js';

/** Error messages sent to a caller are cut to this length: some quote caller or plugin text. */
export const MAX_REPLY_MESSAGE_CHARS = 1024;

/**
 * The reply a caller gets for a decision, sanitized: a result or message from a plugin may hold a
 * credential or someone's token, and must not carry it out of the core. Only `allowed` is `ok`.
 */
export function toWireReply(decision: Decision, sanitizer: Sanitizer): WireReply {
  const correlation = decision.correlation;
  if (decision.outcome === 'allowed') return { correlation, ok: true, result: sanitizer.json(decision.result) };
  const message =
    decision.outcome === 'plugin-error' && decision.pluginCode !== undefined
      ? `${decision.plugin} failed (${decision.pluginCode}): ${decision.reason}`
      : decision.reason;
  return { correlation, ok: false, error: { code: decision.code, message: cap(sanitizer.text(message)) } };
}

function cap(text: string): string {
  return text.length > MAX_REPLY_MESSAGE_CHARS ? `${text.slice(0, MAX_REPLY_MESSAGE_CHARS)}…` : text;
}
