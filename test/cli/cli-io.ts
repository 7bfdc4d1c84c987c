import { spawn } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { runCli } from '../../src/cli/run-cli.js';
import { CLI_ENTRY } from '../support/cli-process.js';

export interface CliRunWithIo {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface InProcessIo {
  /** Bytes on a piped (non-TTY) stdin. */
  readonly stdin?: string | Buffer;
  readonly interrupted?: Promise<void>;
  /** Sees stdout as it is written, for commands that stream (`audit tail --follow`). */
  readonly onStdout?: (text: string) => void;
}

/** Runs the real CLI in-process with a piped stdin and a stdout stream, both captured. */
export async function runWithIo(argv: readonly string[], io: InProcessIo = {}): Promise<CliRunWithIo> {
  let stdout = '';
  let stderr = '';
  const out = (text: string): void => {
    stdout += text;
    io.onStdout?.(text);
  };
  const status = await runCli(argv, {
    stdout: out,
    stderr: (text) => void (stderr += text),
    env: {},
    homedir: '/nonexistent-home-for-tests',
    interrupted: io.interrupted ?? new Promise<void>(() => undefined),
    stdin: () => ({ stream: Readable.from(io.stdin === undefined ? [] : [Buffer.from(io.stdin)]), isTTY: false }),
    stdoutStream: new Writable({
      write(chunk: Buffer, _encoding, done) {
        out(chunk.toString('utf8'));
        done();
      },
    }),
  });
  return { status, stdout, stderr };
}

/** Runs the built CLI as a child process with `stdin` piped in and closed. */
export async function runBuiltCli(args: readonly string[], stdin: string | Buffer = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI_ENTRY, ...args], { env: { PATH: process.env['PATH'] }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => void (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString('utf8')));
  // 'close', not 'exit': 'exit' can come before the last of stdout has been read from the pipe.
  const code = new Promise<number | null>((resolve) => child.once('close', resolve));
  child.stdin.end(stdin);
  return { code: await code, stdout, stderr };
}

export interface PtyRun {
  readonly code: number | null;
  /** Everything the terminal showed: stdout and stderr, as the person at it saw them. */
  readonly screen: string;
}

/**
 * Runs the built CLI on a real pseudo-terminal (util-linux `script`) and types `keys` once `waitFor`
 * appears on the screen, as a person would after seeing a prompt.
 */
export async function runBuiltCliOnPty(args: readonly string[], waitFor: string, keys: string): Promise<PtyRun> {
  const command = [process.execPath, CLI_ENTRY, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['--quiet', '--flush', '--return', '--command', command, '/dev/null'], {
    env: { PATH: process.env['PATH'], TERM: 'dumb' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let screen = '';
  let typed = false;
  const onOutput = (chunk: Buffer): void => {
    screen += chunk.toString('utf8');
    if (!typed && screen.includes(waitFor)) {
      typed = true;
      child.stdin.write(keys);
    }
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  // A prompt that never comes must fail the test, not leave `script` and the CLI running.
  const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(guard);
  return { code, screen };
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
