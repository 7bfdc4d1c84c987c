import { CarapaceError } from '../errors.js';

const MAX_ANSWER_BYTES = 64 * 1024;

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
