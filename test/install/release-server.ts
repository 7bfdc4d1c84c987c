import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { join, normalize } from 'node:path';

export interface ServedRequest {
  readonly path: string;
  /** The request came in absolute form (`GET http://host/path`): it was sent to us as a proxy. */
  readonly proxied: boolean;
  readonly host: string;
}

/**
 * A loopback HTTP server for release directories: GET /NAME/FILE serves ROOT/NAME/FILE. It also
 * answers as a plain HTTP proxy (absolute-form request URIs), whatever host the URI names, so a
 * test can prove a download went through HTTP_PROXY. Paths in `stalled` send half the file and then
 * hang until the server closes, to stop an installer mid-download.
 */
export class ReleaseServer implements AsyncDisposable {
  readonly requests: ServedRequest[] = [];
  readonly stalled = new Set<string>();
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly root: string,
    readonly port: number,
  ) {}

  static async start(root: string): Promise<ReleaseServer> {
    let instance: ReleaseServer | undefined;
    const server = createServer((request, response) => instance!.handle(request.url ?? '/', request.headers.host ?? '', response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    instance = new ReleaseServer(server, root, address.port);
    server.on('connection', (socket) => {
      instance!.sockets.add(socket);
      socket.once('close', () => instance!.sockets.delete(socket));
    });
    return instance;
  }

  /** The URL of release directory `name`. */
  url(name: string): string {
    return `http://127.0.0.1:${this.port}/${name}`;
  }

  private handle(rawUrl: string, host: string, response: import('node:http').ServerResponse): void {
    const proxied = /^https?:\/\//.test(rawUrl);
    const url = new URL(rawUrl, 'http://placeholder');
    const path = decodeURIComponent(url.pathname);
    this.requests.push({ path, proxied, host: proxied ? url.host : host });
    const file = join(this.root, normalize(path));
    const stats = file.startsWith(`${this.root}/`) ? statSync(file, { throwIfNoEntry: false }) : undefined;
    if (stats === undefined || !stats.isFile()) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(stats.size) });
    if (this.stalled.has(path)) {
      // Half the bytes, then nothing: the client waits for the rest until it is stopped.
      createReadStream(file, { end: Math.floor(stats.size / 2) }).on('data', (chunk) => response.write(chunk));
      return;
    }
    createReadStream(file).pipe(response);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
