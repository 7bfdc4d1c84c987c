import { setTimeout as sleep } from 'node:timers/promises';
import { ensureCarapaceHome, homeLayout } from '../../config/carapace-home.js';
import { loadConfig } from '../../config/config-file.js';
import { startCore } from '../../daemon/core.js';
import { readLiveCore } from '../../daemon/pid-lock.js';
import { CarapaceError } from '../../errors.js';
import { createLogger } from '../../logging/logger.js';
import type { CommandContext, CommandResult } from '../command-result.js';
import type { Confirmer } from '../../core/pipeline/confirm.js';
import { createSanitizer } from '../../core/sanitizer.js';
import { openCredentialStore } from '../../credentials/credential-store.js';
import { readCoreState } from '../../daemon/core-state.js';
import { warmSignatureVerifier } from '../../daemon/image-signature.js';
import { resolvePluginImage } from '../../daemon/plugin-images.js';
import { pluginSources } from '../../daemon/plugin-sources.js';
import { describePlugin } from './plugin.js';
import { findConfiguredRuntime } from '../../daemon/find-runtime.js';

export interface StartOptions {
  /** Resolves when the core should stop (SIGINT or SIGTERM, wired in main.ts). */
  readonly untilStopped: Promise<void>;
  /** Called once the core is up, so a foreground user sees it before it stops. */
  readonly onStarted?: (line: string) => void;
  /** Who approves high-risk calls: the terminal's prompt when there is one; none denies them all. */
  readonly confirmer?: Confirmer;
}

/** `carapace start`: runs the core in the foreground, serving tool calls until interrupted. */
export async function start(ctx: CommandContext, options: StartOptions): Promise<CommandResult> {
  const layout = await ensureCarapaceHome(ctx.home);
  // Loads the signature verifier meanwhile, if a plugin's start gate will need it.
  warmSignatureVerifier(layout);
  const { config } = await loadConfig(layout.configFile);
  // Every stored credential value is redacted from every log line, reply and audit record.
  const sanitizer = createSanitizer(await (await openCredentialStore(layout.credentials)).allValues());
  await using logger = createLogger({ home: layout.home, level: config.log.level, sanitize: (line) => sanitizer.text(line) });
  if (sanitizer.ignoredSecrets > 0) logger.warn({ count: sanitizer.ignoredSecrets }, 'credentials too short to redact by exact value');
  const core = await startCore({
    layout,
    config,
    log: logger,
    sanitizer,
    findRuntime: () => findConfiguredRuntime(layout, config, ctx.env),
    pluginSources: pluginSources(layout),
    resolveImage: resolvePluginImage,
    ...(options.confirmer === undefined ? {} : { confirmer: options.confirmer }),
  });
  try {
    const runtime = `${core.runtime.kind} ${core.runtime.version}`;
    const plugins = core.plugins().map((plugin) => `${plugin.name} ${plugin.state}`).join(', ');
    options.onStarted?.(
      `core started (pid ${core.record.pid}, ${runtime}, ${core.orphansRemoved.length} orphan containers removed); plugins: ${plugins || 'none'}; ` +
        `high-risk calls: ${options.confirmer === undefined ? 'denied (no terminal to confirm on)' : 'confirmed on this terminal'}`,
    );
    await options.untilStopped;
  } finally {
    await core.stop();
  }
  const startedAt = core.record.startedAt;
  return {
    text: 'core stopped',
    data: { stopped: true, pid: core.record.pid, startedAt, orphansRemoved: core.orphansRemoved, calls: core.stats() },
  };
}

const STOP_TIMEOUT_MS = 20_000;

/** `carapace stop`: asks the running core to stop (SIGTERM) and waits until it has. */
export async function stop(ctx: CommandContext): Promise<CommandResult> {
  const { pidFile } = homeLayout(ctx.home);
  const core = await readLiveCore(pidFile);
  if (core === undefined) throw new CarapaceError('CORE_NOT_RUNNING', `no core is running for ${ctx.home}`);
  process.kill(core.pid, 'SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while ((await readLiveCore(pidFile)) !== undefined) {
    if (Date.now() > deadline) {
      throw new CarapaceError('CORE_STOP_TIMEOUT', `core pid ${core.pid} did not stop within ${STOP_TIMEOUT_MS / 1000}s`);
    }
    await sleep(50);
  }
  return { text: `core stopped (pid ${core.pid})`, data: { stopped: true, pid: core.pid } };
}

/** `carapace status`: whether a core runs for this home, since when, on which runtime, serving which plugins. */
export async function status(ctx: CommandContext): Promise<CommandResult> {
  const layout = homeLayout(ctx.home);
  const core = await readLiveCore(layout.pidFile);
  if (core === undefined) {
    return {
      text: 'core: not running',
      data: { running: false },
      failure: new CarapaceError('CORE_NOT_RUNNING', `no core is running for ${ctx.home}`),
    };
  }
  const uptimeSeconds = Math.max(0, Math.round((Date.now() - Date.parse(core.startedAt)) / 1000));
  const state = await readCoreState(layout.stateFile);
  // A state file older than this core belongs to a core that was killed: not this one's plugins.
  const plugins = state !== undefined && state.pid === core.pid ? state.plugins : [];
  return {
    text: [
      `core: running (pid ${core.pid})`,
      `since: ${core.startedAt} (${uptimeSeconds}s)`,
      `runtime: ${core.runtime ?? 'unknown'}`,
      `plugins: ${plugins.length === 0 ? 'none yet' : ''}`,
      ...plugins.map((plugin) => `  ${describePlugin(plugin).replace(/\n/g, '\n  ')}`),
    ].join('\n'),
    data: { running: true, pid: core.pid, startedAt: core.startedAt, uptimeSeconds, runtime: core.runtime ?? null, plugins },
  };
}
