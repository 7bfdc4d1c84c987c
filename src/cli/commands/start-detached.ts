import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ensureCarapaceHome } from '../../config/carapace-home.js';
import { readCoreState, type CoreState } from '../../daemon/core-state.js';
import { readLiveCore } from '../../daemon/pid-lock.js';
import { CarapaceError } from '../../errors.js';
import type { CommandContext, CommandResult } from '../command-result.js';

/** Long enough for a first start that builds the built-in plugin images. */
const READY_TIMEOUT_MS = 180_000;
export const CONSOLE_LOG = 'core-console.log';

/**
 * `carapace start --detach`: starts the core as its own background process (new session, no
 * terminal: high-risk calls are denied, as no one can confirm them), and returns once it serves,
 * i.e. its pid lock is held and it has written its state. Its stdout and stderr go to
 * `logs/core-console.log`; `carapace stop` ends it.
 */
export async function startDetached(ctx: CommandContext): Promise<CommandResult> {
  const layout = await ensureCarapaceHome(ctx.home);
  const running = await readLiveCore(layout.pidFile);
  if (running !== undefined) throw new CarapaceError('CORE_ALREADY_RUNNING', `a core is already running for ${ctx.home} (pid ${running.pid})`);
  const entry = fileURLToPath(new URL('../main.js', import.meta.url));
  if (!existsSync(entry)) throw new CarapaceError('INTERNAL', `start --detach needs the built CLI (${entry}); run pnpm build`);

  const consolePath = join(layout.logs, CONSOLE_LOG);
  const console = await open(consolePath, 'a', 0o600);
  let exitCode: number | null | undefined;
  try {
    const child = spawn(process.execPath, [entry, '--home', layout.home, 'start'], {
      detached: true,
      // Like any daemon, it must not keep the caller's working directory busy (or depend on it).
      cwd: '/',
      stdio: ['ignore', console.fd, console.fd],
      env: { ...ctx.env },
    });
    child.once('exit', (code) => void (exitCode = code));
    const pid = child.pid;
    if (pid === undefined) throw new CarapaceError('CORE_NOT_RUNNING', 'the core process could not be started');
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (exitCode !== undefined) {
        throw new CarapaceError('CORE_NOT_RUNNING', `the core exited with status ${String(exitCode)} before it served; see ${consolePath}`, { details: { log: consolePath } });
      }
      const state: CoreState | undefined = (await readLiveCore(layout.pidFile))?.pid === pid ? await readCoreState(layout.stateFile) : undefined;
      if (state?.pid === pid) {
        child.unref();
        const plugins = state.plugins.map((plugin) => `${plugin.name} ${plugin.state}`).join(', ');
        return {
          text: `core started in the background (pid ${String(pid)}); plugins: ${plugins || 'none'}; output in ${consolePath}`,
          data: { started: true, pid, plugins: state.plugins, consoleLog: consolePath },
        };
      }
      if (Date.now() > deadline) {
        child.kill('SIGTERM');
        throw new CarapaceError('CORE_NOT_RUNNING', `the core did not serve within ${String(READY_TIMEOUT_MS / 1000)} s; see ${consolePath}`, { details: { log: consolePath } });
      }
      await sleep(100);
    }
  } finally {
    await console.close();
  }
}
