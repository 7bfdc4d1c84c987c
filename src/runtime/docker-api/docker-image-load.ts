import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type Docker from 'dockerode';
import { CarapaceError, isCarapaceError } from '../../errors.js';

type DialOptions = Parameters<Docker['modem']['dial']>[0];

const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Sends an image archive to `POST /images/load` through `post` (the adapter's request function) and
 * returns what the runtime says it loaded. Podman 4.3's compat endpoint takes an OCI archive as well
 * as a docker-save tarball (measured); Docker 20.10 takes only the latter.
 */
export async function loadImageArchive(post: (dial: DialOptions) => Promise<unknown>, archivePath: string): Promise<string> {
  await stat(archivePath).catch((error: unknown) => {
    throw new CarapaceError('IMAGE_LOAD_FAILED', `cannot read image archive ${archivePath}`, { cause: error });
  });
  const answer = await post({
    path: '/images/load?',
    method: 'POST',
    file: createReadStream(archivePath),
    headers: { 'Content-Type': 'application/x-tar' },
    isStream: true,
    statusCodes: { 200: true, 500: 'server error' },
  }).catch((error: unknown) => {
    throw isCarapaceError(error) && error.code === 'RUNTIME_UNAVAILABLE'
      ? error
      : new CarapaceError('IMAGE_LOAD_FAILED', `loading ${archivePath} failed`, { cause: error });
  });
  return readLoadedImage(answer as NodeJS.ReadableStream);
}

/**
 * Reads the answer of `POST /images/load` and returns what was loaded: a name, or an image id when the
 * archive carried no name. Docker reports a failed load inside a 200 answer (`{"error": ...}`), so the
 * body is checked, not just the status.
 */
export async function readLoadedImage(answer: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of answer) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size <= MAX_ANSWER_BYTES) chunks.push(bytes);
  }
  return parseLoadAnswer(Buffer.concat(chunks).toString('utf8'));
}

/** Exported for tests: the answer is a sequence of JSON objects, newline-separated or not. */
export function parseLoadAnswer(text: string): string {
  const messages = text
    .split(/\r?\n|(?<=\})(?=\{)/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as { stream?: unknown; error?: unknown; errorDetail?: { message?: unknown } };
      } catch {
        throw new CarapaceError('IMAGE_LOAD_FAILED', `unexpected image load answer: ${line.slice(0, 200)}`);
      }
    });
  for (const message of messages) {
    if (message.error !== undefined || message.errorDetail !== undefined) {
      throw new CarapaceError('IMAGE_LOAD_FAILED', `the runtime refused the image: ${String(message.errorDetail?.message ?? message.error)}`);
    }
  }
  for (const message of messages) {
    const match = typeof message.stream === 'string' ? /Loaded image(?:\(s\))?(?: ID)?:\s*(\S+?)(?:,|\s|$)/.exec(message.stream) : null;
    if (match?.[1] !== undefined) return match[1];
  }
  throw new CarapaceError('IMAGE_LOAD_FAILED', `the runtime did not say what it loaded: ${text.slice(0, 200)}`);
}
