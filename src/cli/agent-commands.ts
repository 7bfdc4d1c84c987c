import type { Command } from 'commander';
import { CarapaceError } from '../errors.js';
import { parsePort } from './parse-arguments.js';
import { confirmCalls } from './commands/confirm.js';
import { mcp } from './commands/mcp.js';
import type { CliIo, Run } from './program.js';
import { terminalConfirmer } from './terminal-confirmer.js';

/** `carapace mcp` (the agent front) and `carapace confirm` (a terminal that approves high-risk calls). */
export function addAgentCommands(program: Command, io: CliIo, run: Run): void {
  program
    .command('mcp')
    .description('serve the running plugins to an MCP client (Claude Code, Claude Desktop, Cursor) over stdin and stdout')
    .option('--no-start', 'fail instead of starting the core in the background when none is running')
    .option('--http', 'serve streamable HTTP on loopback instead, for clients that cannot spawn a process (needs the bearer token carapace/MCP_HTTP_TOKEN)')
    .option('--host <address>', 'with --http: the loopback address to listen on', '127.0.0.1')
    .option('--port <port>', 'with --http: the port (0 picks a free one)', parsePort, 8765)
    .action(
      run(async (ctx, options: { start: boolean; http?: boolean; host: string; port: number }) => {
        const stdin = options.http === true ? undefined : io.stdin?.();
        return mcp(ctx, {
          ...(options.http === true ? { http: { host: options.host, port: options.port } } : {}),
          ...(stdin === undefined || io.stdoutStream === undefined ? {} : { streams: { input: stdin.stream, output: io.stdoutStream } }),
          startCore: options.start,
          until: io.interrupted,
          notice: (line) => io.stderr(`${line}\n`),
        });
      }),
    );
  program
    .command('confirm')
    .description('answer, on this terminal, the confirmation prompts of every high-risk call the running core serves')
    .action(
      run(async (ctx) => {
        // A pipe (`yes | carapace confirm`) would approve everything unseen: a person must answer.
        const { confirmer } = terminalConfirmer(io);
        if (confirmer === undefined) throw new CarapaceError('CLI_USAGE', 'carapace confirm needs a terminal: a person must answer each prompt');
        return confirmCalls(ctx, { confirmer, until: io.interrupted, notice: (line) => io.stderr(`${line}\n`) });
      }),
    );
}
