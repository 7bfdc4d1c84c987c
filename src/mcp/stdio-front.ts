import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { CoreLink } from './core-link.js';
import { createCarapaceMcpServer } from './mcp-server.js';

export interface StdioStreams {
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream;
}

/**
 * Serves MCP over the process's stdin and stdout (how Claude Code, Claude Desktop and Cursor run
 * a local server) until the client closes stdin or `until` resolves. Stdout carries only protocol
 * messages: anything Carapace has to say goes to stderr or the log.
 */
export async function serveMcpOverStdio(link: CoreLink, streams: StdioStreams, until: Promise<void>): Promise<void> {
  const mcp = createCarapaceMcpServer(link);
  const transport = new StdioServerTransport(streams.input as NodeJS.ReadStream, streams.output as NodeJS.WriteStream);
  const clientGone = new Promise<void>((resolve) => {
    streams.input.once('end', resolve);
    streams.input.once('close', resolve);
    transport.onclose = resolve;
  });
  await mcp.server.connect(transport);
  try {
    await Promise.race([clientGone, until]);
  } finally {
    await mcp.close();
    await mcp.server.close();
  }
}
