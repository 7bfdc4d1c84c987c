import { ensureCarapaceHome, type HomeLayout } from '../../config/carapace-home.js';
import { loadConfig } from '../../config/config-file.js';
import { readLiveCore } from '../../daemon/pid-lock.js';
import { CarapaceError, isCarapaceError } from '../../errors.js';
import { CoreLink } from '../../mcp/core-link.js';
import { loopbackHost, serveMcpOverHttp } from '../../mcp/http-front.js';
import { serveMcpOverStdio, type StdioStreams } from '../../mcp/stdio-front.js';
import { openCredentialStore } from '../../credentials/credential-store.js';
import { CONTROL_PLUGIN } from '../../wire/control.js';
import type { CommandContext, CommandResult } from '../command-result.js';
import { startDetached } from './start-detached.js';

// Beyond the call and confirmation timeouts, time for the frame to cross the sockets.
const REPLY_MARGIN_MS = 5000;

/** Where `carapace mcp --http` reads its bearer token: `carapace auth set carapace MCP_HTTP_TOKEN`. */
export const HTTP_TOKEN = { plugin: CONTROL_PLUGIN, name: 'MCP_HTTP_TOKEN' } as const;
const MIN_TOKEN_CHARS = 32;

/** Streamable HTTP instead of stdio, for clients that cannot spawn a process. */
export interface HttpListen {
  readonly host: string;
  readonly port: number;
}

export interface McpOptions {
  /** Serve over loopback HTTP instead of stdin and stdout. */
  readonly http?: HttpListen;
  /** Start the core in the background when none is running (the default); false: say how instead. */
  readonly startCore: boolean;
  /** Standard input and output, for stdio; absent when the process has none to give. */
  readonly streams?: StdioStreams;
  /** Resolves on SIGINT or SIGTERM. */
  readonly until: Promise<void>;
  /** Lines for a person, on stderr: stdout is the protocol's. */
  readonly notice: (line: string) => void;
}

/**
 * `carapace mcp`: an MCP server on stdin and stdout for one agent, serving the running core's
 * plugins through the agent socket, so every call is the `agent` group's and passes the pipeline.
 */
export async function mcp(ctx: CommandContext, options: McpOptions): Promise<CommandResult> {
  // What cannot work is refused before anything happens (no core started, no token read).
  const host = options.http === undefined ? undefined : loopbackHost(options.http.host);
  const streams = options.streams;
  if (host === undefined && streams === undefined) throw new CarapaceError('CLI_USAGE', 'carapace mcp needs standard input and output (or --http)');
  const layout = await ensureCarapaceHome(ctx.home);
  await ensureCoreRunning(ctx, layout, options);
  const { config } = await loadConfig(layout.configFile);
  const linkOptions = { callTimeoutMs: config.calls.timeout_ms + config.calls.confirm_timeout_ms + REPLY_MARGIN_MS };
  if (host !== undefined) {
    const token = await readHttpToken(layout);
    await using front = await serveMcpOverHttp({
      host,
      port: options.http?.port ?? 0,
      token,
      openLink: () => new CoreLink(layout, linkOptions),
      onRefused: (reason) => options.notice(`carapace mcp: refused a request: ${reason}`),
    });
    options.notice(`carapace mcp: serving MCP at ${front.url} (bearer token: ${HTTP_TOKEN.plugin}/${HTTP_TOKEN.name} in the credential store)`);
    await options.until;
    return { text: 'stopped serving MCP over HTTP', data: { served: true, url: front.url } };
  }
  await using link = new CoreLink(layout, linkOptions);
  if (streams !== undefined) await serveMcpOverStdio(link, streams, options.until);
  return { text: '', data: { served: true } };
}

async function readHttpToken(layout: HomeLayout): Promise<string> {
  const store = await openCredentialStore(layout.credentials);
  const how = `create one with: openssl rand -hex 32 | carapace auth set ${HTTP_TOKEN.plugin} ${HTTP_TOKEN.name}`;
  const { [HTTP_TOKEN.name]: token } = await store.credentialsFor(HTTP_TOKEN.plugin, [HTTP_TOKEN.name]).catch((error: unknown) => {
    // Only an absent token gets the how-to; an insecure file keeps its own code and message.
    if (isCarapaceError(error) && error.code === 'CREDENTIAL_MISSING') {
      throw new CarapaceError('CREDENTIAL_MISSING', `the HTTP transport needs a bearer token; ${how}`, { cause: error });
    }
    throw error;
  });
  if (token === undefined || token.trim().length < MIN_TOKEN_CHARS) {
    throw new CarapaceError('CREDENTIAL_VALUE_INVALID', `the bearer token must be at least ${String(MIN_TOKEN_CHARS)} characters; ${how}`);
  }
  return token.trim();
}

async function ensureCoreRunning(ctx: CommandContext, layout: HomeLayout, options: McpOptions): Promise<void> {
  if ((await readLiveCore(layout.pidFile)) !== undefined) return;
  if (!options.startCore) {
    throw new CarapaceError('CORE_NOT_RUNNING', `no core is running for ${ctx.home}; start it with carapace start --detach`);
  }
  options.notice('carapace mcp: no core is running; starting one in the background');
  const started = await startDetached(ctx);
  options.notice(`carapace mcp: ${started.text}`);
}
