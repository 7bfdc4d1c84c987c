import { InvalidArgumentError, type Command } from 'commander';
import { isMcpClient, MCP_CLIENTS, type McpClient } from '../clients/mcp-client.js';
import { clientRemove, clientSetup } from './commands/client-setup.js';
import type { CliIo, Run } from './program.js';

interface ClientFlags {
  readonly config?: string;
  readonly print?: boolean;
}

/** `carapace client setup|remove <client>`: wire an MCP client to `carapace mcp`, or unwire it. */
export function addClientCommands(program: Command, io: CliIo, run: Run): void {
  const client = program.command('client').description(`connect MCP clients (${MCP_CLIENTS.join(', ')}) to Carapace`);
  client
    .command('setup')
    .description("make the client run `carapace mcp`: sets mcpServers.carapace in its configuration, keeps everything else, backs the file up first")
    .argument('<client>', MCP_CLIENTS.join('|'), parseMcpClient)
    .option('--config <file>', "the client's configuration file, instead of its usual place")
    .option('--print', 'show the change without writing anything')
    .action(run(async (ctx, name: McpClient, flags: ClientFlags) => clientSetup(ctx, name, { ...flags, homedir: io.homedir })));
  client
    .command('remove')
    .description("remove mcpServers.carapace from the client's configuration, and nothing else; backs the file up first")
    .argument('<client>', MCP_CLIENTS.join('|'), parseMcpClient)
    .option('--config <file>', "the client's configuration file, instead of its usual place")
    .option('--print', 'show the change without writing anything')
    .action(run(async (ctx, name: McpClient, flags: ClientFlags) => clientRemove(ctx, name, { ...flags, homedir: io.homedir })));
}

function parseMcpClient(raw: string): McpClient {
  if (!isMcpClient(raw)) throw new InvalidArgumentError(`expected one of ${MCP_CLIENTS.join(', ')}`);
  return raw;
}
