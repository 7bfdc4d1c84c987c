import { describe, expect, it } from 'vitest';
import { CarapaceError } from '../errors.js';
import { carapaceServerEntry, clientConfigFile, isMcpClient, type ClientConfigLocation } from './mcp-client.js';

const linux: ClientConfigLocation = { homedir: '/home/ada', platform: 'linux', env: {} };

describe('clientConfigFile', () => {
  it('finds each client\'s file under the home directory on Linux', () => {
    expect(clientConfigFile('claude-code', linux)).toBe('/home/ada/.claude.json');
    expect(clientConfigFile('claude-desktop', linux)).toBe('/home/ada/.config/Claude/claude_desktop_config.json');
    expect(clientConfigFile('cursor', linux)).toBe('/home/ada/.cursor/mcp.json');
  });

  it('puts Claude Desktop\'s file in Application Support on macOS', () => {
    expect(clientConfigFile('claude-desktop', { ...linux, homedir: '/Users/ada', platform: 'darwin' })).toBe(
      '/Users/ada/Library/Application Support/Claude/claude_desktop_config.json',
    );
    expect(clientConfigFile('cursor', { ...linux, homedir: '/Users/ada', platform: 'darwin' })).toBe('/Users/ada/.cursor/mcp.json');
  });

  it('follows an absolute XDG_CONFIG_HOME for Claude Desktop on Linux and ignores a relative one', () => {
    expect(clientConfigFile('claude-desktop', { ...linux, env: { XDG_CONFIG_HOME: '/data/config' } })).toBe('/data/config/Claude/claude_desktop_config.json');
    expect(clientConfigFile('claude-desktop', { ...linux, env: { XDG_CONFIG_HOME: 'config' } })).toBe('/home/ada/.config/Claude/claude_desktop_config.json');
  });

  it('HOME_UNAVAILABLE without a home directory, instead of a path relative to the working directory', () => {
    const attempt = (): string => clientConfigFile('cursor', { ...linux, homedir: '' });
    expect(attempt).toThrow(CarapaceError);
    expect(attempt).toThrow(expect.objectContaining({ code: 'HOME_UNAVAILABLE' }));
  });
});

describe('carapaceServerEntry', () => {
  const launch = { command: '/usr/bin/node', args: ['/opt/dist/cli/main.js', 'mcp'] };

  it('gives Claude Code a stdio entry with an empty environment', () => {
    expect(carapaceServerEntry('claude-code', launch)).toEqual({ type: 'stdio', command: '/usr/bin/node', args: ['/opt/dist/cli/main.js', 'mcp'], env: {} });
  });

  it('gives Claude Desktop and Cursor command and args only', () => {
    for (const client of ['claude-desktop', 'cursor'] as const) {
      expect(carapaceServerEntry(client, launch)).toEqual({ command: '/usr/bin/node', args: ['/opt/dist/cli/main.js', 'mcp'] });
    }
  });
});

describe('isMcpClient', () => {
  it('knows the three clients and nothing else', () => {
    expect(['claude-code', 'claude-desktop', 'cursor'].every(isMcpClient)).toBe(true);
    expect(isMcpClient('vscode')).toBe(false);
    expect(isMcpClient('constructor')).toBe(false);
  });
});
