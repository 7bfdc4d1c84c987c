import { once } from 'node:events';
import { CarapaceError } from '../errors.js';
import { toCredentialMessageText, type CredentialMap } from '../wire/credential-message.js';

/**
 * Credentials reach a plugin over its container's stdin, once, at start. Not as environment
 * variables (visible in `podman inspect` and /proc/1/environ), not in arguments, image layers or
 * mounts. The plugin SDK reads this one line, keeps the values in memory and stdin is closed.
 */

/**
 * The bytes the core writes to a container's stdin:
 * `{"type":"carapace.credentials","version":1,"credentials":{...}}\n`. Throws
 * CREDENTIAL_MESSAGE_INVALID (naming fields, never values) if the map is not one the SDK accepts.
 */
export function encodeCredentialMessage(credentials: CredentialMap): Buffer {
  return Buffer.from(`${toCredentialMessageText(credentials)}\n`, 'utf8');
}

/**
 * Writes the credential message to a container's stdin and closes it, so the plugin sees end of
 * input right after the one line, and nothing else can ever be written there. The buffer is
 * zeroed once the stream has flushed it: small Buffers share a pooled slab that later Buffers
 * reuse, and the credential bytes should not linger there.
 * A stream that fails (the container died before reading) fails the start: CONTAINER_START_FAILED.
 */
export async function deliverCredentials(stdin: NodeJS.WritableStream, credentials: CredentialMap): Promise<void> {
  const bytes = encodeCredentialMessage(credentials);
  try {
    const finished = once(stdin, 'finish');
    stdin.end(bytes);
    await finished;
  } catch (error) {
    throw new CarapaceError('CONTAINER_START_FAILED', 'could not deliver credentials to the container', { cause: error });
  } finally {
    bytes.fill(0);
  }
}
