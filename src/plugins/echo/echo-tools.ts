import { createHash } from 'node:crypto';
import type { ToolContext, ToolHandler } from '../../plugin-sdk/index.js';
import type { JsonObject } from '../../wire/json.js';
import { integerArgument, stringArgument } from '../plugin-arguments.js';

/**
 * The echo plugin's tools. Echo exists to prove the plumbing end to end: a call goes in and its
 * arguments come back, a credential reaches the plugin (shown by digest, never by value), a
 * handler's failure comes back as an error, and a slow handler meets the core's per-call timeout.
 */

/** The credential `credential_digest` reports on; declared in plugins/echo/manifest.json. */
export const ECHO_CREDENTIAL = 'ECHO_TOKEN';
export const MAX_ECHO_CHARS = 65_536;
export const MAX_SLEEP_MS = 60_000;

export const echoTools: Readonly<Record<string, ToolHandler>> = {
  echo: (args) => ({ text: stringArgument(args, 'text', { max: MAX_ECHO_CHARS }) }),
  credential_digest: (_args, context) => credentialDigest(context),
  fail: () => {
    throw new Error('echo.fail always fails');
  },
  sleep: (args, context) => sleep(args, context),
};

/**
 * Whether the credential arrived, and its SHA-256, so a test can check it is the value it stored
 * without the value ever crossing the wire back.
 */
function credentialDigest(context: ToolContext): { present: boolean; sha256: string | null } {
  const value = context.credentials[ECHO_CREDENTIAL];
  if (value === undefined) return { present: false, sha256: null };
  return { present: true, sha256: createHash('sha256').update(value, 'utf8').digest('hex') };
}

/** Waits `ms`, or fails early when the plugin starts shutting down (so shutdown is not held up). */
function sleep(args: JsonObject, context: ToolContext): Promise<{ slept: number }> {
  const ms = integerArgument(args, 'ms', { min: 0, max: MAX_SLEEP_MS });
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new Error('sleep interrupted by shutdown'));
    };
    const timer = setTimeout(() => {
      context.signal.removeEventListener('abort', onAbort);
      resolve({ slept: ms });
    }, ms);
    if (context.signal.aborted) onAbort();
    else context.signal.addEventListener('abort', onAbort, { once: true });
  });
}
