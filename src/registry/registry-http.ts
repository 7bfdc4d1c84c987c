import { readFileSync } from 'node:fs';
import { Agent, fetch, ProxyAgent, type Dispatcher, type Response } from 'undici';
import { CarapaceError } from '../errors.js';
import { selectProxy } from './proxy-selection.js';
import { isLoopbackHost } from './registry-reference.js';

export interface RegistryHttpOptions {
  /**
   * Speak plain HTTP instead of HTTPS. Only for a loopback registry (127.0.0.0/8, ::1,
   * localhost); any other host is refused with REGISTRY_REFUSED, since a digest check cannot
   * stop a network attacker from watching which images are pulled or from serving errors.
   */
  readonly plainHttp?: boolean;
  /** Where HTTP(S)_PROXY and NO_PROXY are read; defaults to no proxy at all. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** PEM roots for HTTPS; defaults to the system bundle (SSL_CERT_FILE, else Debian's), else Node's own. */
  readonly caCertificates?: string;
  /** How long to wait for response headers; defaults to 30 s. */
  readonly headersTimeoutMs?: number;
}

export interface RegistryRequest {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT';
  /** A path under the registry (`/v2/...`) or an absolute URL the registry handed out (an upload location). */
  readonly target: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
}

const MAX_REDIRECTS = 5;
const SYSTEM_CA_FILES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'];

/**
 * HTTP to one registry, with the transport rules in one place: HTTPS (verified against the system
 * roots) unless plain HTTP was asked for on loopback; every redirect re-checked against the same
 * rule, so a registry cannot bounce a request to plain HTTP elsewhere; anonymous bearer tokens for
 * registries that want them; proxies only where NO_PROXY allows. Network failures become
 * REGISTRY_UNAVAILABLE. Dispose it to close its connections.
 */
export class RegistryHttp implements AsyncDisposable {
  readonly registry: string;
  private readonly base: URL;
  private readonly options: RegistryHttpOptions;
  private readonly dispatchers = new Map<string, Dispatcher>();
  private readonly tokens = new Map<string, string>();

  constructor(registry: string, options: RegistryHttpOptions = {}) {
    this.registry = registry;
    this.options = options;
    this.base = new URL(`${options.plainHttp === true ? 'http' : 'https'}://${registry}/`);
    verifyTransport(this.base);
  }

  /** A path or URL the registry handed out, resolved against the registry's base URL. */
  resolve(target: string): URL {
    return new URL(target, this.base);
  }

  /** Sends the request, following redirects and one bearer challenge; returns whatever status came back. */
  async send(request: RegistryRequest, scope?: string): Promise<Response> {
    const first = await this.follow(request, scope);
    if (first.status !== 401 || scope === undefined) return first;
    const challenge = first.headers.get('www-authenticate');
    if (challenge === null || !/^bearer\s/i.test(challenge)) return first;
    await first.body?.cancel();
    this.tokens.set(scope, await this.fetchToken(challenge, scope));
    return this.follow(request, scope);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all([...this.dispatchers.values()].map((dispatcher) => dispatcher.close()));
    this.dispatchers.clear();
  }

  private async follow(request: RegistryRequest, scope: string | undefined): Promise<Response> {
    let url = new URL(request.target, this.base);
    for (let hop = 0; hop <= MAX_REDIRECTS; hop += 1) {
      verifyTransport(url);
      const headers: Record<string, string> = { ...request.headers };
      const token = scope === undefined ? undefined : this.tokens.get(scope);
      // The token is the registry's: never hand it to the storage host a blob redirects to.
      if (token !== undefined && url.host === this.base.host) headers['authorization'] = `Bearer ${token}`;
      const response = await this.fetchOnce(url, { method: request.method, headers, ...(request.body === undefined ? {} : { body: request.body }) });
      const location = response.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(response.status) || location === null || request.method === 'POST' || request.method === 'PUT') {
        return response;
      }
      await response.body?.cancel();
      url = new URL(location, url);
    }
    throw new CarapaceError('REGISTRY_REFUSED', `${this.registry}: more than ${String(MAX_REDIRECTS)} redirects for ${request.target}`, {
      details: { registry: this.registry },
    });
  }

  private async fetchOnce(url: URL, init: { method: string; headers: Record<string, string>; body?: Uint8Array }): Promise<Response> {
    try {
      return await fetch(url, { ...init, redirect: 'manual', dispatcher: this.dispatcherFor(url) });
    } catch (error) {
      // A certificate that does not verify is a refusal to talk to that server, not an outage.
      const code = isCertificateFailure(error) ? 'REGISTRY_REFUSED' : 'REGISTRY_UNAVAILABLE';
      throw new CarapaceError(code, `${url.host}: ${init.method} ${url.pathname} failed: ${describeCause(error)}`, {
        cause: error,
        details: { registry: this.registry, url: url.origin + url.pathname },
      });
    }
  }

  /** The anonymous token flow of the distribution spec (docker token authentication). */
  private async fetchToken(challenge: string, scope: string): Promise<string> {
    const parameters = parseChallenge(challenge);
    const realm = parameters.get('realm');
    const refused = (why: string): CarapaceError =>
      new CarapaceError('REGISTRY_REFUSED', `${this.registry} asks for a token: ${why}`, { details: { registry: this.registry } });
    if (realm === undefined) throw refused('the challenge names no realm');
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw refused(`realm ${JSON.stringify(realm)} is not a URL`);
    }
    const service = parameters.get('service');
    if (service !== undefined) url.searchParams.set('service', service);
    url.searchParams.set('scope', scope);
    verifyTransport(url);
    const response = await this.fetchOnce(url, { method: 'GET', headers: { accept: 'application/json' } });
    if (response.status !== 200) throw refused(`the token service answered ${String(response.status)} (credentials are not supported)`);
    const body = (await response.json().catch(() => undefined)) as { token?: unknown; access_token?: unknown } | undefined;
    const token = body?.token ?? body?.access_token;
    if (typeof token !== 'string' || token === '') throw refused('the token service answered without a token');
    return token;
  }

  private dispatcherFor(url: URL): Dispatcher {
    const proxy = selectProxy(url, this.options.env ?? {});
    const key = proxy ?? '';
    let dispatcher = this.dispatchers.get(key);
    if (dispatcher === undefined) {
      const ca = this.options.caCertificates ?? systemCertificates(this.options.env ?? {});
      const tls = ca === undefined ? {} : { ca };
      const timeouts = { headersTimeout: this.options.headersTimeoutMs ?? 30_000, bodyTimeout: 60_000 };
      dispatcher = proxy === undefined ? new Agent({ ...timeouts, connect: tls }) : new ProxyAgent({ uri: proxy, ...timeouts, requestTls: tls });
      this.dispatchers.set(key, dispatcher);
    }
    return dispatcher;
  }
}

/** HTTPS anywhere; plain HTTP only to loopback. Checked for the registry and for every redirect. */
export function verifyTransport(url: URL): void {
  if (url.protocol === 'https:') return;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (url.protocol === 'http:' && isLoopbackHost(host)) return;
  throw new CarapaceError('REGISTRY_REFUSED', `refusing ${url.protocol}//${url.host}: plain HTTP is allowed only to a loopback registry (127.0.0.1, ::1, localhost)`, {
    details: { url: url.origin },
  });
}

function parseChallenge(challenge: string): Map<string, string> {
  const parameters = new Map<string, string>();
  for (const match of challenge.replace(/^bearer\s+/i, '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) {
    parameters.set((match[1] ?? '').toLowerCase(), match[2] ?? '');
  }
  return parameters;
}

/** The host's CA bundle; undefined leaves Node's built-in roots in place. */
function systemCertificates(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const candidates = [env['SSL_CERT_FILE'], ...SYSTEM_CA_FILES].filter((file): file is string => file !== undefined && file !== '');
  for (const file of candidates) {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      // Not there or unreadable: try the next location, then fall back to Node's roots.
    }
  }
  return undefined;
}

const CERTIFICATE_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT/;

function isCertificateFailure(error: unknown): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? (cause as { code: unknown }).code : undefined;
  return typeof code === 'string' && CERTIFICATE_ERROR.test(code);
}

function describeCause(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}
