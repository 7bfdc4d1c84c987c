import type { Readable } from 'node:stream';
import { CarapaceError } from '../errors.js';
import { MAX_CREDENTIAL_MESSAGE_BYTES, parseCredentialMessage, type CredentialMap } from '../wire/credential-message.js';

const NEWLINE = 0x0a;

/**
 * Reads the one credential line the core writes to the container's stdin, then destroys the
 * stream: nothing written later can reach the plugin, and no later code can read the line again.
 * Reading stops at the first newline or at end of input, whichever comes first, so a core that
 * keeps the pipe open does not hang the plugin. Bytes after the newline make the message invalid
 * (fail closed) rather than being left in the stream. The read buffers are zeroed once parsed.
 *
 * Throws CREDENTIAL_MESSAGE_INVALID for a missing, oversized or malformed message.
 */
export async function readCredentialsOnce(stdin: Readable): Promise<CredentialMap> {
  if (stdin.destroyed || stdin.readableEnded) {
    // A second read would wait forever on a stream that can no longer speak; say so instead.
    throw new CarapaceError('CREDENTIAL_MESSAGE_INVALID', 'stdin was already read or closed');
  }
  const chunks: Buffer[] = [];
  try {
    await collectLine(stdin, chunks);
    const bytes = Buffer.concat(chunks);
    chunks.push(bytes);
    if (bytes.byteLength === 0) {
      throw new CarapaceError('CREDENTIAL_MESSAGE_INVALID', 'stdin ended before the credential message arrived');
    }
    return parseCredentialMessage(bytes);
  } finally {
    stdin.destroy();
    for (const chunk of chunks) chunk.fill(0);
  }
}

function collectLine(stdin: Readable, chunks: Buffer[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let total = 0;
    const done = (error?: unknown): void => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', onError);
      stdin.off('close', onEnd);
      stdin.pause();
      if (error === undefined) resolve();
      else reject(error instanceof CarapaceError ? error : new CarapaceError('CREDENTIAL_MESSAGE_INVALID', 'could not read the credential message from stdin', { cause: error }));
    };
    const onData = (chunk: Buffer | string): void => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      chunks.push(buffer);
      total += buffer.byteLength;
      if (total > MAX_CREDENTIAL_MESSAGE_BYTES) {
        // Stop before buffering more: an endless stdin must not exhaust the plugin's memory.
        done(new CarapaceError('CREDENTIAL_MESSAGE_INVALID', `the credential message is larger than ${MAX_CREDENTIAL_MESSAGE_BYTES} bytes`));
      } else if (buffer.includes(NEWLINE)) {
        done();
      }
    };
    const onEnd = (): void => done();
    const onError = (error: unknown): void => done(error);
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.once('close', onEnd);
    stdin.once('error', onError);
  });
}
