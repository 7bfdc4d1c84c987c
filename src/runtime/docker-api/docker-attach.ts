import { request } from 'node:http';
import type { Socket } from 'node:net';
import { DemultiplexedOutput } from '../captured-output.js';

/** A container's stdio, hijacked from the API socket before the container starts. */
export interface AttachedStdio {
  readonly output: DemultiplexedOutput;
  /** Writes the bytes to the container's stdin, then half-closes the connection: the container reads EOF. */
  sendStdinAndClose(bytes: Uint8Array | undefined): Promise<void>;
  /** Resolves once the runtime has closed the stream (the container exited) or it was destroyed. */
  readonly ended: Promise<void>;
  destroy(): void;
}

const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Attaches to a created container over a raw hijacked HTTP connection. We do not use dockerode's
 * `attach`: it sends its options as a request body, and Podman 4.3 delivers those bytes into the
 * container's stdin ahead of ours, which would corrupt the start message. This request has no body
 * (`Content-Length: 0`), asks for an upgrade and waits for `101`; it works on Podman and Docker.
 */
export function attachStdio(socketPath: string, containerId: string): Promise<AttachedStdio> {
  return new Promise((resolve, reject) => {
    const req = request({
      socketPath,
      method: 'POST',
      path: `/containers/${encodeURIComponent(containerId)}/attach?stream=1&stdin=1&stdout=1&stderr=1`,
      headers: { Connection: 'Upgrade', Upgrade: 'tcp', 'Content-Length': '0' },
      timeout: HANDSHAKE_TIMEOUT_MS,
    });
    req.on('timeout', () => req.destroy(new Error(`attach handshake timed out after ${String(HANDSHAKE_TIMEOUT_MS)} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      // Anything but an upgrade is a refusal; its body carries the runtime's reason.
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        reject(Object.assign(new Error(`attach refused (HTTP ${String(res.statusCode)}): ${body.trim()}`), {
          statusCode: res.statusCode,
          json: parseJson(body),
        }));
      });
    });
    req.on('upgrade', (_res, socket: Socket, head: Buffer) => {
      socket.setTimeout(0);
      resolve(toAttachedStdio(socket, head));
    });
    req.end();
  });
}

function toAttachedStdio(socket: Socket, head: Buffer): AttachedStdio {
  const output = new DemultiplexedOutput();
  if (head.length > 0) output.push(head);
  socket.on('data', (chunk: Buffer) => output.push(chunk));
  const ended = new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
  });
  // A reset after the container died must not become an unhandled error; `ended` still resolves.
  socket.on('error', () => undefined);
  return {
    output,
    ended,
    sendStdinAndClose: (bytes) =>
      new Promise<void>((resolve, reject) => {
        if (socket.destroyed || socket.writableEnded) {
          reject(new Error('the attach connection closed before stdin could be written'));
          return;
        }
        const fail = (error?: Error): void => {
          socket.off('error', fail);
          socket.off('close', closedEarly);
          reject(error ?? new Error('the attach connection closed before stdin was flushed'));
        };
        const closedEarly = (): void => fail();
        socket.once('error', fail);
        socket.once('close', closedEarly);
        if (bytes !== undefined && bytes.length > 0) socket.write(Buffer.from(bytes));
        socket.end(() => {
          socket.off('error', fail);
          socket.off('close', closedEarly);
          resolve();
        });
      }),
    destroy: () => socket.destroy(),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
