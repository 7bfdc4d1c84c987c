import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCredentialStore } from '../../src/credentials/credential-store.js';
import { isCarapaceError } from '../../src/errors.js';
import { CoreLink } from '../../src/mcp/core-link.js';
import { serveMcpOverHttp, type HttpFront } from '../../src/mcp/http-front.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';
import { runCliProcess, spawnCli } from '../support/cli-process.js';

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

/** One raw POST, with exactly the headers given (fetch would not let a test forge Host). */
function post(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => void (body += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once('error', reject);
    req.end(INITIALIZE);
  });
}

/**
 * The streamable HTTP transport, for clients that cannot spawn a process: loopback only, and
 * nothing without the bearer token. Runs against the real core and its real plugin containers.
 */
describe('carapace mcp over loopback HTTP', () => {
  const token = randomBytes(32).toString('hex');
  const refusals: string[] = [];
  let harness: TestCore;
  let front: HttpFront;

  beforeAll(async () => {
    harness = await startTestCore();
    front = await serveMcpOverHttp({
      host: '127.0.0.1',
      port: 0,
      token,
      openLink: () => new CoreLink(harness.layout, { callTimeoutMs: 20_000 }),
      onRefused: (reason) => refusals.push(reason),
    });
  }, 180_000);

  afterAll(async () => {
    await front?.close();
    await harness?.stop();
  }, 60_000);

  it('serves the official client that presents the token: list tools, call echo', async () => {
    const client = new Client({ name: 'http-test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(front.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    try {
      expect((await client.listTools()).tools.map((tool) => tool.name)).toContain('echo__echo');
      const result = (await client.callTool({ name: 'echo__echo', arguments: { text: 'over http' } })) as CallToolResult;
      expect(result.content[0]).toEqual({ type: 'text', text: JSON.stringify({ text: 'over http' }) });
    } finally {
      await client.close();
    }
  });

  it('refuses a request without a token, with a wrong token, and with a token of another length', async () => {
    expect((await post(front.url, {})).status).toBe(401);
    expect((await post(front.url, { authorization: `Bearer ${randomBytes(32).toString('hex')}` })).status).toBe(401);
    expect((await post(front.url, { authorization: `Bearer ${token.slice(0, 10)}` })).status).toBe(401);
    expect((await post(front.url, { authorization: `Basic ${Buffer.from(`u:${token}`).toString('base64')}` })).status).toBe(401);
    const refused = await post(front.url, {});
    expect(refused.body).not.toContain(token);
    expect(refusals).toContain('a bearer token is required');
    expect(refusals).toContain('the bearer token is wrong');
  });

  it('refuses, even with the token, a Host or Origin that is not loopback (DNS rebinding)', async () => {
    const authorization = `Bearer ${token}`;
    expect((await post(front.url, { authorization, host: 'attacker.example:80' })).status).toBe(403);
    expect((await post(front.url, { authorization, origin: 'https://attacker.example' })).status).toBe(403);
    expect((await post(front.url, { authorization, origin: 'http://127.0.0.1:3000' })).status).toBe(200);
  });

  it('is not reachable on any other address of this machine', async () => {
    const port = new URL(front.url).port;
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address !== undefined && !address.internal && address.family === 'IPv4');
    expect(front.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    if (external === undefined) return; // a machine with loopback only has nothing else to try
    await expect(post(`http://${external.address}:${port}/mcp`, { authorization: `Bearer ${token}` })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('refuses to bind anything but loopback', async () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com', '']) {
      const error: unknown = await serveMcpOverHttp({ host, port: 0, token, openLink: () => new CoreLink(harness.layout, { callTimeoutMs: 1000 }) }).catch((caught: unknown) => caught);
      expect(isCarapaceError(error) && error.code).toBe('MCP_BIND_REFUSED');
    }
  });

  it('carapace mcp --http refuses a non-loopback bind with its code, before it starts a core', async () => {
    const result = await runCliProcess(['--home', harness.home, '--json', 'mcp', '--http', '--host', '0.0.0.0', '--port', '0']);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: 'MCP_BIND_REFUSED' } });
  });

  it('carapace mcp --http needs a stored token, then serves with it', async () => {
    const missing = await runCliProcess(['--home', harness.home, '--json', 'mcp', '--http', '--port', '0']);
    expect(JSON.parse(missing.stdout)).toMatchObject({ error: { code: 'CREDENTIAL_MISSING' } });
    expect(missing.stdout + missing.stderr).toContain('carapace auth set carapace MCP_HTTP_TOKEN');

    const store = await openCredentialStore(harness.layout.credentials);
    await store.set('carapace', 'MCP_HTTP_TOKEN', 'too-short-to-guard-anything');
    const short = await runCliProcess(['--home', harness.home, '--json', 'mcp', '--http', '--port', '0']);
    expect(JSON.parse(short.stdout)).toMatchObject({ error: { code: 'CREDENTIAL_VALUE_INVALID' } });
    expect(short.stdout + short.stderr).not.toContain('too-short-to-guard-anything');
    await store.set('carapace', 'MCP_HTTP_TOKEN', token);
    const served = spawnCli(['--home', harness.home, 'mcp', '--http', '--port', '0']);
    try {
      await served.waitForStderr('serving MCP at http://127.0.0.1:');
      const url = /serving MCP at (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(served.stderr())?.[1] ?? '';
      expect(served.stderr()).not.toContain(token);
      expect((await post(url, {})).status).toBe(401);
      expect((await post(url, { authorization: `Bearer ${token}` })).status).toBe(200);
    } finally {
      served.child.kill('SIGTERM');
      await served.exited;
    }
  }, 60_000);
});
