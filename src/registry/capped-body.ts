import type { Response } from 'undici';
import type { CarapaceError } from '../errors.js';

/**
 * Reads a response body into memory, refusing (and cancelling the rest) once it passes
 * `maxBytes` instead of buffering all of it: a server decides how much it sends, not the reader.
 */
export async function readCappedBody(response: Response, maxBytes: number, tooLarge: () => CarapaceError): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
