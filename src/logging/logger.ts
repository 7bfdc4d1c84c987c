import { constants, fstatSync, openSync, closeSync, fchmodSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type Logger as PinoLogger } from 'pino';
import { CarapaceError, toCarapaceError } from '../errors.js';
import type { LogLevel } from '../wire/config.js';
import { redactCredentialFields } from './redact-credentials.js';

export const LOG_FILE_NAME = 'carapace.log';

/** `$CARAPACE_HOME/logs/carapace.log`. */
export function logFilePath(home: string): string {
  return join(home, 'logs', LOG_FILE_NAME);
}

export type LogFields = Readonly<Record<string, unknown>>;

export interface LogMethod {
  (message: string): void;
  (fields: LogFields, message?: string): void;
}

/** The logging port the rest of Carapace sees; pino stays inside this module. */
export interface Logger {
  readonly fatal: LogMethod;
  readonly error: LogMethod;
  readonly warn: LogMethod;
  readonly info: LogMethod;
  readonly debug: LogMethod;
  readonly trace: LogMethod;
  /** A logger that adds `bindings` to every line (credential-like fields redacted like any other). */
  child(bindings: LogFields): Logger;
}

/** A logger that owns its file descriptor: close it, or `await using` it. */
export interface FileLogger extends Logger, AsyncDisposable {
  /** The file it appends to; undefined when it writes to an injected destination. */
  readonly file: string | undefined;
  close(): Promise<void>;
}

/** Where lines go instead of the log file (tests, or stderr for a foreground core). */
export interface LogDestination {
  write(line: string): unknown;
}

/**
 * Rewrites one serialized JSON line (trailing newline included) just before it is written; the
 * credential-pattern scrubber plugs in here. It must return one valid JSON line.
 */
export type LineSanitizer = (line: string) => string;

export interface CreateLoggerOptions {
  readonly home: string;
  readonly level: LogLevel;
  readonly destination?: LogDestination;
  readonly sanitize?: LineSanitizer;
}

/**
 * Creates the core's logger: JSON lines appended to `$CARAPACE_HOME/logs/carapace.log` (mode 0600).
 * Writes are synchronous: measured at about 5 µs a line, and a line logged just before a crash
 * still reaches the file, which an async buffer would lose on SIGKILL or an OOM kill.
 */
export function createLogger(options: CreateLoggerOptions): FileLogger {
  const file = options.destination === undefined ? logFilePath(options.home) : undefined;
  const fd = file === undefined ? undefined : openLogFile(file);
  const fileStream = fd === undefined ? undefined : pino.destination({ dest: fd, sync: true });
  const sanitize = options.sanitize;
  const root = pino(
    {
      level: options.level,
      base: { pid: process.pid },
      formatters: { log: (object) => redactCredentialFields(object) as Record<string, unknown> },
      // redactCredentialFields already turned errors into { type, message, stack }; pino's own err
      // serializer would re-read that plain object and relabel it `Object`.
      serializers: { err: (value: unknown) => value },
      hooks: sanitize === undefined ? {} : { streamWrite: (line) => sanitizeOrDrop(sanitize, line) },
    },
    fileStream ?? options.destination,
  );
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    // Lines logged after close are dropped rather than thrown at the caller.
    root.level = 'silent';
    if (fileStream === undefined) return;
    await new Promise<void>((resolve, reject) => {
      fileStream.once('close', resolve);
      fileStream.once('error', reject);
      fileStream.end();
    });
  };
  return { ...wrap(root), file, close, [Symbol.asyncDispose]: close };
}

/**
 * Opens the log for appending, creating it 0600. O_NOFOLLOW: a symlink planted at the log's path
 * would otherwise have the core append to (and chmod) whatever file it points at.
 */
function openLogFile(file: string): number {
  let fd: number;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (error) {
    throw toCarapaceError(error, 'HOME_UNAVAILABLE', `cannot open log file ${file}`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new CarapaceError('HOME_INSECURE', `log file ${file} is not a regular file`);
    // The creation mode went through the umask, and an existing file may have been loosened.
    fchmodSync(fd, 0o600);
    return fd;
  } catch (error) {
    closeSync(fd);
    throw toCarapaceError(error, 'HOME_UNAVAILABLE', `cannot secure log file ${file}`);
  }
}

/** A sanitizer that throws must not let the unsanitized line through, nor crash the caller. */
function sanitizeOrDrop(sanitize: LineSanitizer, line: string): string {
  try {
    return sanitize(line);
  } catch {
    return `${JSON.stringify({ level: 50, time: Date.now(), msg: 'log line dropped: the sanitizer failed on it' })}\n`;
  }
}

function wrap(logger: PinoLogger): Logger {
  const method =
    (level: LogLevel): LogMethod =>
    (first: string | LogFields, message?: string): void => {
      if (typeof first === 'string') logger[level](first);
      else logger[level](first, message);
    };
  return {
    fatal: method('fatal'),
    error: method('error'),
    warn: method('warn'),
    info: method('info'),
    debug: method('debug'),
    trace: method('trace'),
    // Child bindings are serialized once, outside formatters.log, so they are redacted here.
    child: (bindings) => wrap(logger.child(redactCredentialFields(bindings) as Record<string, unknown>)),
  };
}
