import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { CarapaceError } from '../errors.js';
import { MAX_CREDENTIAL_VALUE_BYTES } from '../wire/credential-message.js';

/** Standard input as the CLI sees it: a stream, and on a terminal the means to turn echo off. */
export interface SecretSource {
  readonly stream: NodeJS.ReadableStream;
  /** True when a person types at a terminal: prompt without echo instead of reading to EOF. */
  readonly isTTY: boolean;
}

/**
 * Reads one secret: everything on a piped stdin (one trailing newline removed, so `echo` and
 * `printf` agree), or one line typed at a hidden prompt on a terminal. Never from argv, where it
 * would land in shell history and in `ps` for every user on the machine. An empty value is
 * refused; the error never contains any part of what was read.
 */
export async function readSecret(source: SecretSource, prompt: string, writePrompt: (text: string) => void): Promise<string> {
  const value = source.isTTY ? await promptWithoutEcho(source.stream, prompt, writePrompt) : await readAll(source.stream);
  if (value === '') throw noValue('is empty');
  return value;
}

// One value plus a CRLF: anything longer cannot be stored, so stop reading rather than buffer it.
const READ_LIMIT = MAX_CREDENTIAL_VALUE_BYTES + 2;

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      total += bytes.length;
      chunks.push(bytes);
      if (total > READ_LIMIT) throw noValue(`is larger than ${MAX_CREDENTIAL_VALUE_BYTES} bytes`);
    }
    const all = Buffer.concat(chunks);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(all);
    } catch (error) {
      throw noValue('is not valid UTF-8', error);
    } finally {
      // The string cannot be wiped, but the bytes it came from can.
      all.fill(0);
    }
    return stripOneNewline(text);
  } finally {
    for (const chunk of chunks) chunk.fill(0);
  }
}

function stripOneNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

/**
 * readline in terminal mode puts the tty in raw mode, so the terminal itself echoes nothing, and
 * its own redrawing goes to a sink. History is off, so the line is not kept for arrow-up.
 */
async function promptWithoutEcho(input: NodeJS.ReadableStream, prompt: string, writePrompt: (text: string) => void): Promise<string> {
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  const reader = createInterface({ input, output: sink, terminal: true, historySize: 0 });
  // After the interface exists: by the time the prompt is visible, the terminal is already raw.
  writePrompt(prompt);
  try {
    return await new Promise<string>((resolve, reject) => {
      reader.once('line', resolve);
      // Raw mode turns Ctrl-C into a keypress: readline reports it as SIGINT on the interface.
      reader.once('SIGINT', () => reject(noValue('was not entered (cancelled)')));
      reader.once('close', () => reject(noValue('was not entered (end of input)')));
    });
  } finally {
    reader.close();
    // The Enter that ended the line was not echoed either.
    writePrompt('\n');
  }
}

function noValue(problem: string, cause?: unknown): CarapaceError {
  return new CarapaceError('CREDENTIAL_VALUE_INVALID', `the credential value ${problem}; nothing was stored`, {
    cause,
    details: { problem },
  });
}
