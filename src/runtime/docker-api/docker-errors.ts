import { CarapaceError, isCarapaceError, type ErrorCode } from '../../errors.js';

/** What a failed request was about, so a 404 becomes the right "not found". */
export type RequestSubject = 'container' | 'image' | 'runtime';

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EPIPE']);

/**
 * Translates an error from dockerode, docker-modem or a raw socket request into a CarapaceError,
 * keeping the original as `cause`. The message names the socket but never a request body.
 */
export function toRuntimeError(error: unknown, action: string, subject: RequestSubject, socketPath: string): CarapaceError {
  if (isCarapaceError(error)) return error;
  const { code, statusCode, reason } = describeFailure(error);
  const details = { socketPath, ...(statusCode === undefined ? {} : { statusCode }), ...(code === undefined ? {} : { errno: code }) };
  let errorCode: ErrorCode = 'RUNTIME_REQUEST_FAILED';
  if (code !== undefined && UNREACHABLE.has(code)) errorCode = 'RUNTIME_UNAVAILABLE';
  else if (statusCode === 404 && subject === 'container') errorCode = 'CONTAINER_NOT_FOUND';
  else if (statusCode === 404 && subject === 'image') errorCode = 'IMAGE_NOT_FOUND';
  const hint = errorCode === 'RUNTIME_UNAVAILABLE' ? ` (is the runtime's API service running at ${socketPath}?)` : '';
  return new CarapaceError(errorCode, `${action} failed: ${reason}${hint}`, { cause: error, details });
}

/** Reads the status and errno that docker-modem and node:net attach to their errors. */
export function describeFailure(error: unknown): { code?: string; statusCode?: number; reason: string } {
  if (!(error instanceof Error)) return { reason: String(error) };
  const fields = error as Error & { code?: unknown; statusCode?: unknown; json?: unknown };
  const code = typeof fields.code === 'string' ? fields.code : undefined;
  const statusCode = typeof fields.statusCode === 'number' ? fields.statusCode : undefined;
  const serverMessage = readServerMessage(fields.json);
  return {
    ...(code === undefined ? {} : { code }),
    ...(statusCode === undefined ? {} : { statusCode }),
    reason: serverMessage ?? error.message,
  };
}

function readServerMessage(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const message = (json as { message?: unknown; cause?: unknown }).message;
  return typeof message === 'string' ? message : undefined;
}

/** Create, attach and start failures are start failures, except an unreachable runtime or a missing image. */
export function asStartFailure(error: unknown): CarapaceError {
  const wrapped = isCarapaceError(error) ? error : new CarapaceError('CONTAINER_START_FAILED', String(error), { cause: error });
  if (wrapped.code === 'RUNTIME_REQUEST_FAILED' || wrapped.code === 'CONTAINER_NOT_FOUND') {
    return new CarapaceError('CONTAINER_START_FAILED', wrapped.message, { cause: wrapped, details: wrapped.details });
  }
  return wrapped;
}
