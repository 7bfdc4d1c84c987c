import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/registry/registry-client.js';
import { startLoopbackRegistry, type LoopbackRegistry } from '../support/docker-registry.js';
import { pushBuiltImage, smallPluginImage } from './registry-fixtures.js';

/**
 * The transport rules: HTTPS verified against the CA bundle (a real registry with a certificate
 * made here), redirects re-checked, the anonymous token flow, and proxies. Servers other than the
 * registry are small loopback HTTP servers standing in for what a hostile or a remote registry
 * would send; nothing leaves the machine.
 */

let dir: string;
let tlsRegistry: LoopbackRegistry;
let certificate: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'carapace-transport-'));
  const certificateFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-keyout', keyFile, '-out', certificateFile, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ]);
  certificate = await readFile(certificateFile, 'utf8');
  tlsRegistry = await startLoopbackRegistry({ tls: { certificateFile, keyFile } });
});

afterAll(async () => {
  await tlsRegistry?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('HTTPS', () => {
  it('pushes and resolves over TLS when the certificate chains to a trusted root', async () => {
    await using client = new RegistryClient(tlsRegistry.host, { caCertificates: certificate });
    const image = smallPluginImage('over-tls');
    await pushBuiltImage(client, 'carapace/tls', 'v1', image);
    expect(await client.resolveTag('carapace/tls', 'v1')).toBe(image.manifestDigest);
  });

  it('refuses a certificate the system roots do not vouch for: REGISTRY_REFUSED, never a fallback to HTTP', async () => {
    await using client = new RegistryClient(tlsRegistry.host);
    await expect(client.resolveTag('carapace/tls', 'v1')).rejects.toMatchObject({ code: 'REGISTRY_REFUSED' });
  });
});

/** A loopback HTTP server answering with `handle`; every request line is recorded. */
async function fakeServer(handle: (request: IncomingMessage, response: ServerResponse) => void): Promise<{ host: string; requests: string[]; connects: string[] } & AsyncDisposable> {
  const requests: string[] = [];
  const connects: string[] = [];
  const server: Server = createServer((request, response) => {
    requests.push(`${request.method ?? ''} ${request.url ?? ''} ${request.headers.authorization ?? ''}`.trim());
    handle(request, response);
  });
  server.on('connect', (request: IncomingMessage, socket: Socket) => {
    connects.push(request.url ?? '');
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${String((server.address() as AddressInfo).port)}`,
    requests,
    connects,
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('redirects', () => {
  it('a redirect to plain HTTP off loopback is REGISTRY_REFUSED before it is followed', async () => {
    await using server = await fakeServer((_request, response) => {
      response.writeHead(307, { location: 'http://storage.example/blob' }).end();
    });
    await using client = new RegistryClient(server.host, { plainHttp: true });
    await expect(client.resolveTag('x', 'v1')).rejects.toMatchObject({ code: 'REGISTRY_REFUSED' });
  });

  it('a redirect loop ends after 5 hops with REGISTRY_REFUSED', async () => {
    await using server = await fakeServer((request, response) => {
      response.writeHead(302, { location: `${request.url ?? '/'}x` }).end();
    });
    await using client = new RegistryClient(server.host, { plainHttp: true });
    await expect(client.resolveTag('x', 'v1')).rejects.toMatchObject({ code: 'REGISTRY_REFUSED' });
    expect(server.requests.filter((line) => line.startsWith('HEAD'))).toHaveLength(6);
  });
});

describe('anonymous bearer tokens', () => {
  it('answers a Bearer challenge with a token for the repository scope and retries once', async () => {
    const digest = `sha256:${'c'.repeat(64)}`;
    await using server = await fakeServer((request, response) => {
      if (request.url?.startsWith('/token') === true) {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'anon-token' }));
      } else if (request.headers.authorization === 'Bearer anon-token') {
        response.writeHead(200, { 'docker-content-digest': digest }).end();
      } else {
        response.writeHead(401, { 'www-authenticate': `Bearer realm="http://${request.headers.host ?? ''}/token",service="fake"` }).end();
      }
    });
    await using client = new RegistryClient(server.host, { plainHttp: true });
    expect(await client.resolveTag('acme/plugin', 'v1')).toBe(digest);
    expect(server.requests).toEqual([
      'HEAD /v2/acme/plugin/manifests/v1',
      'GET /token?service=fake&scope=repository%3Aacme%2Fplugin%3Apull',
      'HEAD /v2/acme/plugin/manifests/v1 Bearer anon-token',
    ]);
  });

  it('a token service that wants credentials: REGISTRY_REFUSED', async () => {
    await using server = await fakeServer((request, response) => {
      if (request.url?.startsWith('/token') === true) response.writeHead(401).end();
      else response.writeHead(401, { 'www-authenticate': `Bearer realm="http://${request.headers.host ?? ''}/token"` }).end();
    });
    await using client = new RegistryClient(server.host, { plainHttp: true });
    await expect(client.resolveTag('acme/plugin', 'v1')).rejects.toMatchObject({ code: 'REGISTRY_REFUSED' });
  });
});

describe('proxies', () => {
  it('sends HTTPS to a remote registry through HTTPS_PROXY, and loopback never', async () => {
    await using proxy = await fakeServer((_request, response) => void response.writeHead(502).end());
    const env = { HTTPS_PROXY: `http://${proxy.host}`, HTTP_PROXY: `http://${proxy.host}` };
    // The proxy refuses the tunnel, so nothing goes further than this machine.
    await using remote = new RegistryClient('registry.example:443', { env });
    await expect(remote.resolveTag('x', 'v1')).rejects.toMatchObject({ code: 'REGISTRY_UNAVAILABLE' });
    expect(proxy.connects).toEqual(['registry.example:443']);

    await using local = new RegistryClient(tlsRegistry.host, { env, caCertificates: certificate });
    await expect(local.resolveTag('carapace/none', 'v1')).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
    expect(proxy.connects).toEqual(['registry.example:443']);
    expect(proxy.requests).toEqual([]);
  });
});
