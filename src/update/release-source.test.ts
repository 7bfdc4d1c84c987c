import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHttpReleaseSource } from './release-source.js';

// A real HTTP server on loopback: the release source's transport rules, status handling and caps.
describe('openHttpReleaseSource', () => {
  let server: Server;
  let base: string;
  let work: string;
  const payload = Buffer.from('x'.repeat(100_000));

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'carapace-release-source-'));
    server = createServer((request, response) => {
      const path = request.url ?? '/';
      if (path === '/r/file') response.end(payload);
      else if (path === '/r/moved') response.writeHead(302, { location: '/r/file' }).end();
      else if (path === '/r/elsewhere') response.writeHead(302, { location: 'http://releases.example/r/file' }).end();
      else if (path === '/r/loop') response.writeHead(302, { location: '/r/loop' }).end();
      else response.writeHead(404).end('not found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    base = `http://127.0.0.1:${address.port}/r`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(work, { recursive: true, force: true });
  });

  it('reads a file, following a redirect that stays on loopback', async () => {
    await using source = openHttpReleaseSource(base, { env: {} });
    expect(source.url).toBe(`${base}/`);
    expect((await source.readBytes('file', payload.length)).equals(payload)).toBe(true);
    expect((await source.readBytes('moved', payload.length)).equals(payload)).toBe(true);
  });

  it('streams a download to a new 0600 file and hashes it on the way', async () => {
    await using source = openHttpReleaseSource(base, { env: {} });
    const path = join(work, 'download');
    const got = await source.download('file', path, payload.length);
    expect(got).toEqual({ sha256: createHash('sha256').update(payload).digest('hex'), size: payload.length });
    expect(readFileSync(path).equals(payload)).toBe(true);
    await expect(source.download('file', path, payload.length)).rejects.toMatchObject({ code: 'EEXIST' });
  });

  it('refuses more bytes than expected with RELEASE_DIGEST_MISMATCH', async () => {
    await using source = openHttpReleaseSource(base, { env: {} });
    await expect(source.readBytes('file', 1000)).rejects.toMatchObject({ code: 'RELEASE_DIGEST_MISMATCH' });
    await expect(source.download('file', join(work, 'short'), 1000)).rejects.toMatchObject({ code: 'RELEASE_DIGEST_MISMATCH' });
  });

  it('says RELEASE_UNAVAILABLE for a missing file, a redirect off loopback to plain http, a redirect loop and a closed port', async () => {
    await using source = openHttpReleaseSource(base, { env: {} });
    await expect(source.readBytes('absent', 10)).rejects.toMatchObject({ code: 'RELEASE_UNAVAILABLE', message: expect.stringContaining('HTTP 404') });
    await expect(source.readBytes('elsewhere', 10)).rejects.toMatchObject({ code: 'RELEASE_UNAVAILABLE', message: expect.stringContaining('neither https nor loopback') });
    await expect(source.readBytes('loop', 10)).rejects.toMatchObject({ code: 'RELEASE_UNAVAILABLE', message: expect.stringContaining('redirects') });
    await using closed = openHttpReleaseSource('http://127.0.0.1:9/r', { env: {} });
    await expect(closed.readBytes('file', 10)).rejects.toMatchObject({ code: 'RELEASE_UNAVAILABLE' });
  });

  it('never sends loopback traffic to a proxy, and refuses a URL update.url would not accept', async () => {
    // The proxy does not exist: a request sent to it would fail.
    await using source = openHttpReleaseSource(base, { env: { HTTP_PROXY: 'http://127.0.0.1:9', http_proxy: 'http://127.0.0.1:9' } });
    expect((await source.readBytes('file', payload.length)).length).toBe(payload.length);
    expect(() => openHttpReleaseSource('http://releases.example/r', { env: {} })).toThrow(expect.objectContaining({ code: 'RELEASE_UNAVAILABLE' }));
  });
});
