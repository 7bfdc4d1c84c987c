import { homeLayout } from '../../config/carapace-home.js';
import { loadConfig } from '../../config/config-file.js';
import { searchConfiguredRuntime } from '../../daemon/find-runtime.js';
import { failedLines, renderCheckLines } from '../../doctor/check-line.js';
import { runDoctor } from '../../doctor/run-doctor.js';
import { CarapaceError } from '../../errors.js';
import type { CommandContext, CommandResult } from '../command-result.js';

/** `carapace doctor`: PASS/FAIL per security property; the run fails if any line does. */
export async function doctor(ctx: CommandContext): Promise<CommandResult> {
  const layout = homeLayout(ctx.home);
  const { config } = await loadConfig(layout.configFile);
  const lines = await runDoctor({
    layout,
    nodeVersion: process.version,
    findRuntime: () => searchConfiguredRuntime(layout, config, ctx.env),
  });
  const failed = failedLines(lines);
  const summary = failed.length === 0 ? 'All checks passed.' : `${failed.length} check(s) failed.`;
  return {
    text: `${renderCheckLines(lines)}\n\n${summary}`,
    data: { ok: failed.length === 0, checks: lines },
    ...(failed.length === 0
      ? {}
      : {
          failure: new CarapaceError('DOCTOR_CHECKS_FAILED', `failed: ${failed.map((line) => line.name).join(', ')}`, {
            details: { failed: failed.map((line) => line.name) },
          }),
        }),
  };
}
