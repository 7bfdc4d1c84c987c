import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/run-cli.js';

export interface CliRun {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A fresh, not yet created Carapace home under a new temp directory. */
export async function freshHome(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'carapace-cli-')), 'home');
}

/** Runs the real CLI program in-process with captured output and an injected environment. */
export async function runCarapace(
  argv: readonly string[],
  options: { env?: Record<string, string | undefined>; interrupted?: Promise<void> } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const status = await runCli(argv, {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    env: options.env ?? {},
    homedir: '/nonexistent-home-for-tests',
    interrupted: options.interrupted ?? new Promise<void>(() => undefined),
  });
  return { status, stdout, stderr };
}
