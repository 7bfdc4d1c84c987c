import type { CommandExecutor, CommandResult, RunOptions } from '../../src/runtime/command-executor.js';

export interface RecordedCall {
  readonly file: string;
  readonly args: readonly string[];
  readonly stdin?: string;
}

type Responder = (args: readonly string[]) => CommandResult | Promise<CommandResult>;

/**
 * A scripted `CommandExecutor`: records every argv and answers from a table keyed by the first
 * arguments ("image inspect", "create", ...). An unscripted command fails loudly.
 */
export class FakeExecutor implements CommandExecutor {
  readonly calls: RecordedCall[] = [];
  readonly detached: RecordedCall[] = [];
  private readonly responders: [string, Responder][] = [];
  nextPid = 4242;

  on(prefix: string, respond: Responder | CommandResult): this {
    this.responders.push([prefix, typeof respond === 'function' ? respond : () => respond]);
    return this;
  }

  async run(file: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    this.calls.push({ file, args, ...(options.stdin === undefined ? {} : { stdin: Buffer.from(options.stdin).toString('utf8') }) });
    const joined = args.join(' ');
    const match = this.responders.find(([prefix]) => joined === prefix || joined.startsWith(`${prefix} `));
    if (match === undefined) throw new Error(`FakeExecutor: no answer scripted for ${file} ${joined}`);
    return match[1](args);
  }

  async spawnDetached(file: string, args: readonly string[]): Promise<number> {
    this.detached.push({ file, args });
    return this.nextPid;
  }
}

export function ok(stdout = ''): CommandResult {
  return { exitCode: 0, stdout, stderr: '' };
}

export function failed(stderr: string, exitCode = 1): CommandResult {
  return { exitCode, stdout: '', stderr };
}
