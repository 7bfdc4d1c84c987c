import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Agent, fetch, ProxyAgent, type Dispatcher, type Response } from 'undici';
import { CarapaceError } from '../errors.js';
import { readCappedBody } from '../registry/capped-body.js';
import { selectProxy } from '../registry/proxy-selection.js';
import { isReleaseUrl } from '../wire/config.js';

/** Where a release's files come from: `update.url`, one directory of files. */
export interface ReleaseSource extends AsyncDisposable {
  readonly url: string;
  /** A small file (release.json, a bundle) in memory; more than `maxBytes` is refused. */
  readBytes(name: string, maxBytes: number): Promise<Buffer>;
  /** Streams a file to `path`, hashing it on the way; more than `maxBytes` is refused. */
  download(name: string, path: string, maxBytes: number): Promise<{ readonly sha256: string; readonly size: number }>;
}

const MAX_REDIRECTS = 5;

export interface HttpReleaseSourceOptions {
  /** Where HTTP(S)_PROXY and NO_PROXY are read. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** How long to wait for each response's headers (default 30 s). */
  readonly headersTimeoutMs?: number;
}

/**
 * Releases over HTTPS (plain HTTP only on loopback, as `update.url` allows), through the proxy the
 * environment names unless NO_PROXY or loopback says otherwise. Every redirect is checked against
 * the same rule, so a server cannot send the download to plain HTTP elsewhere. Failures are
 * RELEASE_UNAVAILABLE naming the URL; nothing here decides whether the bytes are good, the
 * caller's checksum and signature checks do.
 */
export function openHttpReleaseSource(url: string, options: HttpReleaseSourceOptions): ReleaseSource {
  const base = url.endsWith('/') ? url : `${url}/`;
  if (!isReleaseUrl(base)) throw new CarapaceError('RELEASE_UNAVAILABLE', `not a release URL Carapace fetches from: ${url} (https, or http on loopback)`);
  const dispatchers = new Map<string, Dispatcher>();
  const dispatcherFor = (target: URL): Dispatcher => {
    const proxy = selectProxy(target, options.env) ?? '';
    let dispatcher = dispatchers.get(proxy);
    if (dispatcher === undefined) {
      const timeouts = { headersTimeout: options.headersTimeoutMs ?? 30_000, bodyTimeout: 60_000 };
      dispatcher = proxy === '' ? new Agent(timeouts) : new ProxyAgent({ uri: proxy, ...timeouts });
      dispatchers.set(proxy, dispatcher);
    }
    return dispatcher;
  };

  const get = async (name: string): Promise<{ response: Response; url: string }> => {
    let target = new URL(name, base);
    for (let hop = 0; hop <= MAX_REDIRECTS; hop += 1) {
      if (!isReleaseUrl(target.href)) throw unavailable(target.href, 'redirected to a URL that is neither https nor loopback http');
      let response: Response;
      try {
        response = await fetch(target, { redirect: 'manual', dispatcher: dispatcherFor(target) });
      } catch (error) {
        throw unavailable(target.href, error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error), error);
      }
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.body?.cancel();
        target = new URL(location, target);
        continue;
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        throw unavailable(target.href, `HTTP ${response.status}`);
      }
      return { response, url: target.href };
    }
    throw unavailable(base + name, `more than ${MAX_REDIRECTS} redirects`);
  };

  return {
    url: base,
    async readBytes(name, maxBytes) {
      const { response, url: from } = await get(name);
      return readCappedBody(response, maxBytes, () => tooLarge(from, maxBytes));
    },
    async download(name, path, maxBytes) {
      // Opened first, exclusively: a name that exists already is refused before any request.
      const file = await open(path, 'wx', 0o600);
      const hash = createHash('sha256');
      let size = 0;
      try {
        const { response, url: from } = await get(name);
        try {
          for await (const chunk of response.body ?? []) {
            size += chunk.byteLength;
            if (size > maxBytes) throw tooLarge(from, maxBytes);
            hash.update(chunk);
            await file.write(chunk);
          }
        } catch (error) {
          await response.body?.cancel().catch(() => undefined);
          if (error instanceof CarapaceError) throw error;
          throw unavailable(from, error instanceof Error ? error.message : String(error), error);
        }
      } finally {
        await file.close();
      }
      return { sha256: hash.digest('hex'), size };
    },
    async [Symbol.asyncDispose]() {
      await Promise.all([...dispatchers.values()].map((dispatcher) => dispatcher.close()));
    },
  };
}

function unavailable(url: string, reason: string, cause?: unknown): CarapaceError {
  return new CarapaceError('RELEASE_UNAVAILABLE', `cannot fetch ${url}: ${reason}`, { details: { url }, ...(cause === undefined ? {} : { cause }) });
}

function tooLarge(url: string, maxBytes: number): CarapaceError {
  return new CarapaceError('RELEASE_DIGEST_MISMATCH', `${url} is larger than the ${maxBytes} bytes expected; refused`, { details: { url, maxBytes } });
}
