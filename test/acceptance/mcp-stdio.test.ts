import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema, ToolListChangedNotificationSchema, type CallToolResult, type ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confirmCalls } from '../../src/cli/commands/confirm.js';
import type { ConfirmationRequest, Confirmer } from '../../src/core/pipeline/confirm.js';
import { connectAsAgent } from '../../src/daemon/core-client.js';
import { openAuditReader } from '../../src/store/audit-reader.js';
import { CONTROL_TOPICS } from '../../src/wire/control.js';
import { runCliProcess } from '../support/cli-process.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';
import { podmanSocket } from '../support/podman.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

type ElicitAnswer = (message: string) => Promise<ElicitResult>;

/**
 * An agent's view, end to end: the official MCP SDK client runs `carapace mcp` over stdio, the way
 * Claude Code does, against the real core with the built-in plugins in real Podman containers.
 * Every call passes the pipeline as the `agent` group and lands in the real audit file.
 */
describe('carapace mcp over stdio', () => {
  let harness: TestCore;
  const clients: Client[] = [];

  beforeAll(async () => {
    harness = await startTestCore({ config: '[calls]\nconfirm_timeout_ms = 3000\ntimeout_ms = 5000\n' });
  }, 180_000);

  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await harness?.stop();
  }, 60_000);

  /** A client connected to a fresh `carapace mcp`; with `elicit`, it declares elicitation and answers with it. */
  async function connect(elicit?: ElicitAnswer): Promise<Client> {
    const client = new Client({ name: 'carapace-test', version: '1.0.0' }, { capabilities: elicit === undefined ? {} : { elicitation: { form: {} } } });
    if (elicit !== undefined) client.setRequestHandler(ElicitRequestSchema, (request) => elicit(request.params.message));
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, '--home', harness.home, 'mcp', '--no-start'], stderr: 'pipe' });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  const text = (result: unknown): string => {
    const content = (result as CallToolResult).content[0];
    if (content?.type !== 'text') throw new Error(`expected text content, got ${JSON.stringify(result)}`);
    return content.text;
  };
  const resultOf = (result: unknown): unknown => {
    if ((result as CallToolResult).isError === true) throw new Error(`expected a result, got ${text(result)}`);
    return JSON.parse(text(result));
  };
  const errorCodeOf = (result: unknown): string => {
    expect((result as CallToolResult).isError).toBe(true);
    return text(result).split(':')[0] ?? '';
  };
  const storeNote = async (client: Client, note: string): Promise<number> =>
    (resultOf(await client.callTool({ name: 'memory__store', arguments: { text: note } })) as { id: number }).id;

  it('lists the tools of the running plugins, namespaced, with their manifest schemas, and none of the core\'s own', async () => {
    const client = await connect();
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name).sort();
    expect(names).toEqual(expect.arrayContaining(['echo__echo', 'memory__delete', 'memory__search', 'memory__store']));
    expect(names.some((name) => name.startsWith('carapace'))).toBe(false);
    const store = tools.find((tool) => tool.name === 'memory__store');
    expect(store?.inputSchema).toMatchObject({ type: 'object', required: ['text'], additionalProperties: false });
    expect(tools.find((tool) => tool.name === 'memory__delete')?.annotations?.destructiveHint).toBe(true);
  });

  it('calls echo and memory through the pipeline', async () => {
    const client = await connect();
    expect(resultOf(await client.callTool({ name: 'echo__echo', arguments: { text: 'hello from mcp' } }))).toEqual({ text: 'hello from mcp' });
    await storeNote(client, 'the heron fishes at dawn');
    const found = resultOf(await client.callTool({ name: 'memory__search', arguments: { query: 'heron' } })) as { notes: { text: string }[] };
    expect(found.notes.map((note) => note.text)).toEqual(['the heron fishes at dawn']);
  });

  it('turns refusals into tool errors that start with their code', async () => {
    const client = await connect();
    expect(errorCodeOf(await client.callTool({ name: 'echo__echo', arguments: { text: 'hi', extra: 1 } }))).toBe('ARGUMENTS_INVALID');
    expect(errorCodeOf(await client.callTool({ name: 'echo__echo', arguments: {} }))).toBe('ARGUMENTS_INVALID');
    expect(errorCodeOf(await client.callTool({ name: 'nothing__here', arguments: {} }))).toBe('TOPIC_UNKNOWN');
  });

  it('offers each plugin\'s skills as prompts and resources', async () => {
    const client = await connect();
    const { prompts } = await client.listPrompts();
    expect(prompts.map((prompt) => prompt.name)).toEqual(expect.arrayContaining([expect.stringMatching(/^memory__/), expect.stringMatching(/^echo__/)]));
    const memoryPrompt = prompts.find((prompt) => prompt.name.startsWith('memory__'));
    const prompt = await client.getPrompt({ name: memoryPrompt?.name ?? '' });
    const message = prompt.messages[0]?.content;
    expect(message?.type === 'text' ? message.text : '').toContain('memory.');
    const { resources } = await client.listResources();
    const resource = resources.find((entry) => entry.uri.startsWith('carapace://skills/memory/'));
    const read = await client.readResource({ uri: resource?.uri ?? '' });
    expect(read.contents[0]).toMatchObject({ mimeType: 'text/markdown' });
  });

  describe('high-risk calls', () => {
    it('runs when the user approves through elicitation', async () => {
      const asked: string[] = [];
      const client = await connect((message) => {
        asked.push(message);
        return Promise.resolve({ action: 'accept', content: { approve: true } });
      });
      const id = await storeNote(client, 'approved for deletion');
      expect(resultOf(await client.callTool({ name: 'memory__delete', arguments: { id } }))).toMatchObject({ deleted: true });
      expect(asked).toHaveLength(1);
      expect(asked[0]).toContain('memory.delete');
      expect(asked[0]).toContain(String(id));
    });

    it('is denied when the user declines', async () => {
      const client = await connect(() => Promise.resolve({ action: 'decline' }));
      const id = await storeNote(client, 'declined deletion');
      expect(errorCodeOf(await client.callTool({ name: 'memory__delete', arguments: { id } }))).toBe('CONFIRMATION_DENIED');
    });

    it('is denied when the user accepts the form without approving', async () => {
      const client = await connect(() => Promise.resolve({ action: 'accept', content: { approve: false } }));
      const id = await storeNote(client, 'accepted but not approved');
      expect(errorCodeOf(await client.callTool({ name: 'memory__delete', arguments: { id } }))).toBe('CONFIRMATION_DENIED');
    });

    it('times out when the user never answers', async () => {
      const client = await connect(() => new Promise(() => undefined));
      const id = await storeNote(client, 'never answered');
      expect(errorCodeOf(await client.callTool({ name: 'memory__delete', arguments: { id } }))).toBe('CONFIRMATION_TIMEOUT');
    }, 20_000);

    it('is denied when the client cannot elicit and no other confirmer is attached', async () => {
      const client = await connect();
      const id = await storeNote(client, 'no one to ask');
      const result = await client.callTool({ name: 'memory__delete', arguments: { id } });
      expect(errorCodeOf(result)).toBe('CONFIRMATION_DENIED');
      expect(text(result)).toContain('no confirmer is attached');
    });

    it('goes to a `carapace confirm` terminal when the client cannot elicit', async () => {
      const asked: ConfirmationRequest[] = [];
      const terminal: Confirmer = { confirm: (request) => (asked.push(request), Promise.resolve('approved')) };
      let stopConfirming = (): void => undefined;
      const attached = new Promise<void>((resolve) => {
        const confirming = confirmCalls(
          { home: harness.home, env: {}, json: false },
          { confirmer: terminal, until: new Promise<void>((until) => (stopConfirming = until)), notice: () => resolve() },
        );
        void confirming.catch(() => resolve());
      });
      await attached;
      try {
        const client = await connect();
        const id = await storeNote(client, 'confirmed on a terminal');
        expect(resultOf(await client.callTool({ name: 'memory__delete', arguments: { id } }))).toMatchObject({ deleted: true });
        expect(asked.map((request) => [request.topic, request.source, request.group, request.arguments])).toEqual([['memory.delete', 'agent', 'agent', { id }]]);
      } finally {
        stopConfirming();
      }
    });

    it('audits every decision as the agent group', () => {
      using audit = openAuditReader(harness.layout.auditFile);
      expect(audit.verify().ok).toBe(true);
      const deletes = audit.tail(100_000).filter((record) => record.topic === 'memory.delete');
      expect(deletes.every((record) => record.group === 'agent' && record.caller === 'agent' && record.source === 'memory')).toBe(true);
      const decisions = deletes.map((record) => `${record.kind}:${record.decision ?? ''}:${record.code ?? ''}`);
      expect(decisions).toEqual(
        expect.arrayContaining(['intent:confirmed:', 'refusal:denied:CONFIRMATION_DENIED', 'refusal:denied:CONFIRMATION_TIMEOUT']),
      );
    });
  });

  describe('the agent socket', () => {
    it('never lets an agent confirm every call, or answer a prompt that was not put to it', async () => {
      await using agent = connectAsAgent(harness.layout);
      const attach = await agent.call({ topic: CONTROL_TOPICS.confirmAllCalls, arguments: {} }, 5000);
      expect(attach.ok ? 'OK' : attach.error.code).toBe('UNAUTHORIZED');
      const decide = await agent.call({ topic: CONTROL_TOPICS.decide, arguments: { call: 'a-call-of-someone-else', approve: true } }, 5000);
      expect(decide.ok ? 'OK' : decide.error.message).toContain('CONFIRMATION_UNKNOWN');
    });

    it('carapace confirm refuses to run without a terminal, so a pipe cannot approve unseen', async () => {
      const result = await runCliProcess(['--home', harness.home, '--json', 'confirm']);
      expect(result.code).toBe(2);
      expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: 'CLI_USAGE' } });
    });
  });

  it('announces a changed tool list when a plugin stops, and drops its tools', async () => {
    const client = await connect();
    const changed = new Promise<void>((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
    const echo = harness.core.plugins().find((plugin) => plugin.name === 'echo');
    await new Docker({ socketPath: podmanSocket() }).getContainer(echo?.container?.id ?? '').kill();
    await changed;
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).not.toContain('echo__echo');
    expect(names).toContain('memory__store');
  }, 30_000);
});
