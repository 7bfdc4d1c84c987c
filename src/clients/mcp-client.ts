import { isAbsolute, join } from 'node:path';
import { CarapaceError } from '../errors.js';
import type { CarapaceLaunch } from './carapace-launch.js';

/** The MCP clients `carapace client setup` knows how to configure. */
export const MCP_CLIENTS = ['claude-code', 'claude-desktop', 'cursor'] as const;
export type McpClient = (typeof MCP_CLIENTS)[number];

/** The key of Carapace's entry in a client's `mcpServers`; the only key setup and remove touch. */
export const SERVER_NAME = 'carapace';

/** One `mcpServers` entry, as the client's JSON holds it. */
export type ServerEntry = Readonly<Record<string, unknown>>;

/** What a client's configuration path depends on, injected so tests never see the real home. */
export interface ClientConfigLocation {
  readonly homedir: string;
  readonly platform: NodeJS.Platform;
  readonly env: Readonly<Record<string, string | undefined>>;
}

const DISPLAY_NAMES: Readonly<Record<McpClient, string>> = {
  'claude-code': 'Claude Code',
  'claude-desktop': 'Claude Desktop',
  cursor: 'Cursor',
};

export function isMcpClient(value: string): value is McpClient {
  return (MCP_CLIENTS as readonly string[]).includes(value);
}

export function clientDisplayName(client: McpClient): string {
  return DISPLAY_NAMES[client];
}

/**
 * The file that holds a client's MCP servers: Claude Code's user scope (~/.claude.json), Claude
 * Desktop's config in its application-data folder, Cursor's global ~/.cursor/mcp.json.
 */
export function clientConfigFile(client: McpClient, where: ClientConfigLocation): string {
  // An empty homedir would make these paths relative to wherever the command happens to run.
  if (where.homedir === '') {
    throw new CarapaceError('HOME_UNAVAILABLE', `no home directory to find ${DISPLAY_NAMES[client]}'s configuration in; pass --config <file>`);
  }
  switch (client) {
    case 'claude-code':
      return join(where.homedir, '.claude.json');
    case 'cursor':
      return join(where.homedir, '.cursor', 'mcp.json');
    case 'claude-desktop':
      return join(applicationDataDir(where), 'Claude', 'claude_desktop_config.json');
  }
}

/** Electron's appData folder: ~/Library/Application Support on macOS, the XDG config home elsewhere. */
function applicationDataDir(where: ClientConfigLocation): string {
  if (where.platform === 'darwin') return join(where.homedir, 'Library', 'Application Support');
  // The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
  const xdg = where.env['XDG_CONFIG_HOME'];
  return xdg !== undefined && isAbsolute(xdg) ? xdg : join(where.homedir, '.config');
}

/**
 * Carapace's entry for a client. Claude Code's user-scope entries name their transport and
 * environment (what `claude mcp add` writes); Claude Desktop and Cursor take command and args.
 */
export function carapaceServerEntry(client: McpClient, launch: CarapaceLaunch): ServerEntry {
  if (client === 'claude-code') return { type: 'stdio', command: launch.command, args: [...launch.args], env: {} };
  return { command: launch.command, args: [...launch.args] };
}
