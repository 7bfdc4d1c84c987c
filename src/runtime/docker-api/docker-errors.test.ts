import { describe, expect, it } from 'vitest';
import { CarapaceError } from '../../errors.js';
import { asStartFailure, toRuntimeError } from './docker-errors.js';

function httpError(statusCode: number, message: string): Error {
  return Object.assign(new Error(`(HTTP code ${String(statusCode)}) ${message}`), { statusCode, json: { message } });
}

function socketError(code: string): Error {
  return Object.assign(new Error(`connect ${code} /run/x.sock`), { code });
}

describe('toRuntimeError', () => {
  it.each(['ECONNREFUSED', 'ENOENT', 'EACCES'])('reports %s on the socket as RUNTIME_UNAVAILABLE', (code) => {
    const error = toRuntimeError(socketError(code), 'ping', 'runtime', '/run/x.sock');
    expect(error.code).toBe('RUNTIME_UNAVAILABLE');
    expect(error.details).toMatchObject({ socketPath: '/run/x.sock', errno: code });
  });

  it('reports a 404 as the subject that was not found', () => {
    expect(toRuntimeError(httpError(404, 'no such container'), 'inspect', 'container', '/s').code).toBe('CONTAINER_NOT_FOUND');
    expect(toRuntimeError(httpError(404, 'no such image'), 'create', 'image', '/s').code).toBe('IMAGE_NOT_FOUND');
  });

  it('reports any other failure as RUNTIME_REQUEST_FAILED, keeping the cause and the server message', () => {
    const cause = httpError(500, 'boom');
    const error = toRuntimeError(cause, 'start', 'container', '/s');
    expect(error.code).toBe('RUNTIME_REQUEST_FAILED');
    expect(error.cause).toBe(cause);
    expect(error.message).toContain('boom');
    expect(error.details).toMatchObject({ statusCode: 500 });
  });

  it('keeps a CarapaceError as it is', () => {
    const original = new CarapaceError('SPEC_VIOLATION', 'no');
    expect(toRuntimeError(original, 'x', 'container', '/s')).toBe(original);
  });
});

describe('asStartFailure', () => {
  it('turns a failed create, attach or start into CONTAINER_START_FAILED, keeping the cause', () => {
    const requestFailure = toRuntimeError(httpError(409, 'name in use'), 'create', 'image', '/s');
    const failure = asStartFailure(requestFailure);
    expect(failure.code).toBe('CONTAINER_START_FAILED');
    expect(failure.cause).toBe(requestFailure);
  });

  it('keeps the codes a caller acts on differently: a missing image, an unreachable runtime', () => {
    expect(asStartFailure(toRuntimeError(httpError(404, 'no such image'), 'create', 'image', '/s')).code).toBe('IMAGE_NOT_FOUND');
    expect(asStartFailure(toRuntimeError(socketError('ECONNREFUSED'), 'create', 'image', '/s')).code).toBe('RUNTIME_UNAVAILABLE');
  });
});
