import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CarapaceError } from '../errors.js';
import type { CoreLink } from './core-link.js';
import { createCarapaceMcpServer, type CarapaceMcpServer } from './mcp-server.js';

export interface HttpFrontOptions {
  /** A loopback address: 127.0.0.0/8, ::1 or `localhost`. Anything else is refused. */
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** The bearer token every request must carry, from the credential store. */
  readonly token: string;
  /** A new connection to the core, one per MCP session. */
  readonly openLink: () => CoreLink;
  /** Refusals worth a line in the log (never the token). */
  readonly onRefused?: (reason: string) => void;
  readonly maxSessions?: number;
}

export interface HttpFront extends AsyncDisposable {
  /** `http://127.0.0.1:PORT/mcp`. */
  readonly url: string;
  close(): Promise<void>;
}

export const MCP_PATH = '/mcp';
const DEFAULT_MAX_SESSIONS = 32;

interface Session {
  readonly transport: StreamableHTTPServerTransport;
  readonly mcp: CarapaceMcpServer;
  readonly link: CoreLink;
}

/**
 * MCP over streamable HTTP, for clients that cannot spawn a process. It listens on loopback only
 * and answers nothing without the bearer token (compared in constant time); the Host and Origin
 * headers must be loopback too, so a web page cannot reach it through DNS rebinding. Each MCP
 * session gets its own connection to the core's agent socket.
 */
export async function serveMcpOverHttp(options: HttpFrontOptions): Promise<HttpFront> {
  const host = loopbackHost(options.host);
  const expected = digest(options.token);
  const sessions = new Map<string, Session>();
  const maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;

  const refuse = (res: ServerResponse, status: number, reason: string): void => {
    options.onRefused?.(reason);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (status === 401) headers['www-authenticate'] = 'Bearer realm="carapace"';
    res.writeHead(status, headers).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: reason }, id: null }));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const problem = checkRequest(req, expected);
    if (problem !== undefined) return refuse(res, problem.status, problem.reason);
    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const session = sessions.get(sessionId);
      if (session === undefined) return refuse(res, 404, 'unknown MCP session');
      return session.transport.handleRequest(req, res);
    }
    if (sessions.size >= maxSessions) return refuse(res, 503, 'too many MCP sessions');
    const session = openSession(options, sessions);
    await session.transport.handleRequest(req, res);
    // A first request that was not an `initialize` made no session: nothing may linger.
    if (session.transport.sessionId === undefined) await closeSession(session);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.end();
    });
  });
  await listen(server, host, options.port);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const close = async (): Promise<void> => {
    await Promise.allSettled([...sessions.values()].map((session) => closeSession(session)));
    sessions.clear();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${String(port)}${MCP_PATH}`, close, [Symbol.asyncDispose]: close };
}

function openSession(options: HttpFrontOptions, sessions: Map<string, Session>): Session {
  const link = options.openLink();
  const mcp = createCarapaceMcpServer(link);
  const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    onsessioninitialized: (id) => void sessions.set(id, session),
    onsessionclosed: (id) => {
      const closed = sessions.get(id);
      sessions.delete(id);
      if (closed !== undefined) void closeSession(closed);
    },
  });
  const session: Session = { transport, mcp, link };
  void mcp.server.connect(transport);
  return session;
}

async function closeSession(session: Session): Promise<void> {
  await session.mcp.close();
  await session.mcp.server.close().catch(() => undefined);
  session.link.close();
}

/** Why a request is refused before MCP sees it, or `undefined`. The token is checked first, so nothing else leaks without it. */
function checkRequest(req: IncomingMessage, expected: Buffer): { status: number; reason: string } | undefined {
  const authorization = req.headers.authorization;
  const presented = authorization?.startsWith('Bearer ') === true ? authorization.slice('Bearer '.length) : undefined;
  if (presented === undefined) return { status: 401, reason: 'a bearer token is required' };
  // Digests have one length, so the comparison takes the same time whatever was presented.
  if (!timingSafeEqual(digest(presented), expected)) return { status: 401, reason: 'the bearer token is wrong' };
  if (!isLoopbackAuthority(req.headers.host)) return { status: 403, reason: 'the Host header must name a loopback address' };
  const origin = req.headers.origin;
  if (origin !== undefined && !isLoopbackOrigin(origin)) return { status: 403, reason: 'requests from other origins are refused' };
  const path = (req.url ?? '').split('?')[0];
  if (path !== MCP_PATH) return { status: 404, reason: `the MCP endpoint is ${MCP_PATH}` };
  return undefined;
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** The address to bind, if it is loopback; `MCP_BIND_REFUSED` otherwise. `localhost` binds 127.0.0.1, never a name lookup. */
export function loopbackHost(host: string): string {
  if (host === 'localhost') return '127.0.0.1';
  if (isLoopbackAddress(host)) return host;
  throw new CarapaceError('MCP_BIND_REFUSED', `the MCP HTTP transport binds to loopback only (127.0.0.1, ::1, localhost), not ${host}`, { details: { host } });
}

function isLoopbackAddress(host: string): boolean {
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}

function isLoopbackAuthority(authority: string | undefined): boolean {
  if (authority === undefined) return false;
  const host = authority.startsWith('[') ? authority.slice(1, authority.indexOf(']')) : authority.replace(/:\d+$/, '');
  return host === 'localhost' || isLoopbackAddress(host);
}

function isLoopbackOrigin(origin: string): boolean {
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && isLoopbackAuthority(url.host);
  } catch {
    return false;
  }
}

function listen(server: HttpServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error) => reject(new CarapaceError('MCP_BIND_REFUSED', `cannot listen on ${host}:${String(port)}: ${error.message}`, { cause: error })));
    server.listen(port, host, () => resolve());
  });
}
