import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { writeFileAtomic } from '../config/atomic-write.js';
import { CarapaceError } from '../errors.js';

/**
 * What the running core serves, written by the core to `run/core-state.json` (0600) on every
 * change, read by `carapace status` and `carapace plugin list`. It is only a report: the CLI
 * trusts it only while the pid lock says its core is alive.
 */

export const PLUGIN_STATES = ['starting', 'running', 'stopped', 'failed'] as const;
export type PluginState = (typeof PLUGIN_STATES)[number];

const PluginReportSchema = z.strictObject({
  name: z.string(),
  version: z.string(),
  builtin: z.boolean(),
  state: z.enum(PLUGIN_STATES),
  tools: z.array(z.strictObject({ topic: z.string(), risk: z.enum(['low', 'high']), description: z.string() })),
  container: z.strictObject({ id: z.string(), name: z.string(), image: z.string(), startedAt: z.string() }).nullable(),
  missingCredentials: z.array(z.string()),
  /** Why the plugin is failed or stopped. */
  problem: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
});

const CoreStateSchema = z.strictObject({
  pid: z.number().int(),
  startedAt: z.string(),
  updatedAt: z.string(),
  runtime: z.string(),
  callerSocket: z.string(),
  agentSocket: z.string(),
  eventSocket: z.string(),
  plugins: z.array(PluginReportSchema),
  /** Plugins whose manifest did not load. */
  rejected: z.array(z.strictObject({ plugin: z.string(), dir: z.string(), code: z.string(), message: z.string() })),
});

export type PluginReport = z.infer<typeof PluginReportSchema>;
export type CoreState = z.infer<typeof CoreStateSchema>;

export async function writeCoreState(file: string, state: CoreState): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`, 0o600);
}

/** The last state a core wrote, or `undefined` if there is none; a file that does not parse is INTERNAL, naming it. */
export async function readCoreState(file: string): Promise<CoreState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CarapaceError('HOME_UNAVAILABLE', `cannot read ${file}`, { cause: error, details: { path: file } });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CarapaceError('INTERNAL', `${file} is not valid JSON`, { cause: error, details: { path: file } });
  }
  const parsed = CoreStateSchema.safeParse(json);
  if (!parsed.success) throw new CarapaceError('INTERNAL', `${file} is not a core state file: ${parsed.error.message}`, { details: { path: file } });
  return parsed.data;
}
