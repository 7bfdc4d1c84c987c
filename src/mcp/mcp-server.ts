import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { isCarapaceError } from '../errors.js';
import type { CatalogTool } from '../wire/control.js';
import type { JsonObject } from '../wire/json.js';
import type { WireReply } from '../wire/message.js';
import { CARAPACE_VERSION } from '../version.js';
import type { CoreLink } from './core-link.js';
import { confirmByElicitation } from './elicit-confirmation.js';
import { nameCatalog, type NamedCatalog } from './tool-names.js';

export interface CarapaceMcpServer {
  readonly server: Server;
  /** Stops watching the core's events; closing the transport is the caller's. */
  close(): Promise<void>;
}

const INSTRUCTIONS =
  'Carapace runs each tool in its own locked-down container and checks every call. High-risk tools ask the user to confirm; ' +
  'a refused call comes back as an error whose text starts with its code (for example ARGUMENTS_INVALID or CONFIRMATION_DENIED). ' +
  'The prompts teach how to use each plugin.';

/**
 * An MCP server that offers the tools and skills of the core's running plugins and forwards every
 * call over `link`, so each passes the core's pipeline as the `agent` group. It keeps no copy of
 * the catalog it could act on while stale: each list asks the core, and a call names a tool by the
 * catalog the core holds at that moment.
 */
export function createCarapaceMcpServer(link: CoreLink): CarapaceMcpServer {
  const server = new Server(
    { name: 'carapace', version: CARAPACE_VERSION },
    {
      capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true } },
      instructions: INSTRUCTIONS,
    },
  );
  // Lists always ask the core; a call uses the last catalog, and asks again only for a name it
  // does not know, so a call costs one round trip, not two. A plugin that stopped since is
  // refused by the core's route stage, never reached.
  let known: NamedCatalog | undefined;
  const named = async (): Promise<NamedCatalog> => (known = nameCatalog(await link.catalog()));
  const toolNamed = async (name: string): Promise<CatalogTool | undefined> => known?.tools.get(name) ?? (await named()).tools.get(name);

  // Until the client said whether it can elicit, a high-risk call could reach the core with no
  // one attached to confirm it; calls wait for that to settle.
  let confirmationsReady: Promise<void> = Promise.resolve();
  const attachConfirmations = (): void => {
    if (server.getClientCapabilities()?.elicitation === undefined) return;
    confirmationsReady = link
      .confirmOwnCalls((prompt) => void confirmByElicitation(server, prompt).then((approve) => link.decide(prompt.call, approve)).catch(() => undefined))
      .catch(() => undefined);
  };
  server.oninitialized = attachConfirmations;

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: [...(await named()).tools].map(
      ([name, tool]): Tool => ({
        name,
        title: `${tool.plugin} ${tool.tool}`,
        description: tool.risk === 'high' ? `${tool.description} (high risk: asks the user to confirm)` : tool.description,
        inputSchema: tool.arguments as Tool['inputSchema'],
        annotations: { destructiveHint: tool.risk === 'high', openWorldHint: false },
      }),
    ),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const tool = await toolNamed(request.params.name);
    if (tool === undefined) return toolError('TOPIC_UNKNOWN', `no running plugin offers the tool ${request.params.name}`);
    await confirmationsReady;
    try {
      return toToolResult(await link.call(tool.topic, (request.params.arguments ?? {}) as JsonObject));
    } catch (error) {
      if (isCarapaceError(error)) return toolError(error.code, error.message);
      throw error;
    }
  });

  server.setRequestHandler(ListPromptsRequestSchema, async () => ({
    prompts: [...(await named()).prompts].map(([name, skill]) => ({ name, title: skill.title, description: `How to use the ${skill.plugin} tools (${skill.path})` })),
  }));

  server.setRequestHandler(GetPromptRequestSchema, async (request) => {
    const skill = (await named()).prompts.get(request.params.name);
    if (skill === undefined) throw new Error(`no running plugin offers the prompt ${request.params.name}`);
    const text = await link.skill(skill.plugin, skill.path);
    return { description: skill.title, messages: [{ role: 'user', content: { type: 'text', text } }] };
  });

  server.setRequestHandler(ListResourcesRequestSchema, async () => ({
    resources: [...(await named()).resources].map(([uri, skill]) => ({ uri, name: skill.title, mimeType: 'text/markdown', description: `A skill of the ${skill.plugin} plugin` })),
  }));

  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    const skill = (await named()).resources.get(request.params.uri);
    if (skill === undefined) throw new Error(`no running plugin offers the resource ${request.params.uri}`);
    return { contents: [{ uri: request.params.uri, mimeType: 'text/markdown', text: await link.skill(skill.plugin, skill.path) }] };
  });

  const watch = link.watchPlugins(() => {
    // Plugins also start when a core restarts, and a new core knows no attached confirmer:
    // attaching again is harmless when it does.
    attachConfirmations();
    known = undefined;
    void announceChanges(server);
  });
  return {
    server,
    close: () => {
      watch.close();
      return Promise.resolve();
    },
  };
}

/** Tells the client that tools, prompts and resources may have changed; a client that is gone is not an error. */
async function announceChanges(server: Server): Promise<void> {
  if (server.transport === undefined) return;
  await Promise.allSettled([server.sendToolListChanged(), server.sendPromptListChanged(), server.sendResourceListChanged()]);
}

/** A pipeline reply as an MCP tool result: a refusal is a tool error whose text starts with its code. */
export function toToolResult(reply: WireReply): CallToolResult {
  if (!reply.ok) return toolError(reply.error.code, reply.error.message);
  return { content: [{ type: 'text', text: JSON.stringify(reply.result) }] };
}

function toolError(code: string, message: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: `${code}: ${message}` }] };
}
