import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What a create request's JSON body looks like to the weakening function. */
export type CreateBody = Record<string, unknown> & { HostConfig?: Record<string, unknown> };

export interface WeakeningProxy extends AsyncDisposable {
  /** Point `runtime.socket` here: it speaks the Docker API and forwards to the real runtime. */
  readonly socketPath: string;
}

/**
 * A man in the middle on the runtime's API socket that rewrites every container-create request
 * with `weaken` before the real runtime sees it. It stands in for a buggy or hostile runtime
 * adapter (one that drops the read-only flag, say), without any test hook in Carapace itself.
 */
export async function startWeakeningProxy(upstreamSocket: string, weaken: (body: CreateBody) => void): Promise<WeakeningProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'carapace-proxy-'));
  const socketPath = join(dir, 'api.sock');
  const server = createServer((incoming, outgoing) => void forward(incoming, outgoing, upstreamSocket, weaken));
  // Attach requests switch protocols (Upgrade: tcp); after the headers, bytes flow both ways untouched.
  server.on('upgrade', (incoming: IncomingMessage, client: Socket, head: Buffer) => {
    const upstream = connect(upstreamSocket, () => {
      upstream.write(`${incoming.method} ${incoming.url} HTTP/1.1\r\n${rawHeaders(incoming)}\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function forward(
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  upstreamSocket: string,
  weaken: (body: CreateBody) => void,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of incoming) chunks.push(chunk as Buffer);
  let body = Buffer.concat(chunks);
  if (incoming.method === 'POST' && /\/containers\/create(\?|$)/.test(incoming.url ?? '')) {
    const parsed = JSON.parse(body.toString('utf8')) as CreateBody;
    weaken(parsed);
    body = Buffer.from(JSON.stringify(parsed));
  }
  const headers = { ...incoming.headers, 'content-length': String(body.length) };
  delete headers['transfer-encoding'];
  const upstream = request({ socketPath: upstreamSocket, method: incoming.method, path: incoming.url, headers }, (answer) => {
    outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(outgoing);
  });
  upstream.on('error', (error) => {
    outgoing.writeHead(502);
    outgoing.end(String(error));
  });
  upstream.end(body);
}

function rawHeaders(incoming: IncomingMessage): string {
  let text = '';
  for (let index = 0; index < incoming.rawHeaders.length; index += 2) {
    text += `${incoming.rawHeaders[index]}: ${incoming.rawHeaders[index + 1]}\r\n`;
  }
  return text;
}
