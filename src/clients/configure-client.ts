import type { AtomicWriteSteps } from '../config/atomic-write.js';
import { parseClientConfig, planServerChange, renderClientConfig } from './client-config-document.js';
import { readClientConfigFile, replaceClientConfigFile } from './client-config-file.js';
import type { ServerEntry } from './mcp-client.js';

export interface ConfigureClientOptions {
  readonly file: string;
  /** The entry `mcpServers.carapace` should hold; undefined removes it. */
  readonly desired: ServerEntry | undefined;
  /** Work out the change and report it, writing nothing (`--print`). */
  readonly dryRun: boolean;
  readonly now: () => Date;
  readonly steps?: AtomicWriteSteps;
}

/** What happened to a client's configuration file. */
export interface ClientConfigOutcome {
  /** The file edited (a symlink's target). */
  readonly file: string;
  readonly existed: boolean;
  readonly hadEntry: boolean;
  readonly before: unknown;
  readonly after: unknown;
  /** The entry differs from what was there, whether or not it was written. */
  readonly changed: boolean;
  readonly written: boolean;
  /** The copy made before writing; undefined when nothing was written or the file is new. */
  readonly backup: string | undefined;
}

/**
 * Reads a client's configuration, changes only `mcpServers.carapace` and writes it back, with a
 * backup first. A file already as wanted is left byte for byte as it is, and gets no backup.
 */
export async function configureClient(options: ConfigureClientOptions): Promise<ClientConfigOutcome> {
  const current = await readClientConfigFile(options.file);
  const change = planServerChange(parseClientConfig(current.text, current.file), options.desired);
  const outcome = { file: current.file, existed: current.exists, hadEntry: change.hadEntry, before: change.before, after: change.after, changed: change.changed };
  if (!change.changed || options.dryRun) return { ...outcome, written: false, backup: undefined };
  const backup = await replaceClientConfigFile(current, renderClientConfig(change.document), options.now(), options.steps);
  return { ...outcome, written: true, backup };
}
