import { isLoopbackHost } from './registry-reference.js';

/**
 * The proxy a request to `url` goes through, from the standard environment variables, or
 * undefined for a direct connection. Lowercase names win over uppercase, as in curl:
 * `https_proxy`/`HTTPS_PROXY` for https URLs, `http_proxy`/`HTTP_PROXY` for http ones, and
 * `no_proxy`/`NO_PROXY` lists hosts reached directly (`*`, `host`, `.domain`, `*.domain`, any of
 * them with `:port`). Loopback is never proxied, whatever the variables say: a proxy would carry
 * traffic meant to stay on this machine off it.
 */
export function selectProxy(url: URL, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (isLoopbackHost(host)) return undefined;
  const proxy = url.protocol === 'https:' ? firstSet(env, 'https_proxy', 'HTTPS_PROXY') : firstSet(env, 'http_proxy', 'HTTP_PROXY');
  if (proxy === undefined) return undefined;
  const port = url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port;
  const noProxy = firstSet(env, 'no_proxy', 'NO_PROXY') ?? '';
  return noProxy.split(/[\s,]+/).some((entry) => matchesNoProxy(entry, host.toLowerCase(), port)) ? undefined : proxy;
}

function matchesNoProxy(rawEntry: string, host: string, port: string): boolean {
  const entry = rawEntry.trim().toLowerCase();
  if (entry === '') return false;
  if (entry === '*') return true;
  const { name, entryPort } = splitPort(entry);
  if (entryPort !== undefined && entryPort !== port) return false;
  const domain = name.replace(/^\*?\./, '');
  if (domain === '') return false;
  return host === domain || host.endsWith(`.${domain}`);
}

function splitPort(entry: string): { name: string; entryPort: string | undefined } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed !== null) return { name: bracketed[1] ?? '', entryPort: bracketed[2] };
  const match = /^([^:]+):(\d+)$/.exec(entry);
  return match === null ? { name: entry, entryPort: undefined } : { name: match[1] ?? '', entryPort: match[2] };
}

function firstSet(env: Readonly<Record<string, string | undefined>>, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}
