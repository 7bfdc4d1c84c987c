#!/usr/bin/env node
import { homedir } from 'node:os';
import { runCli } from './run-cli.js';

// The only place in Carapace that exits: everything below returns results or throws typed errors.
const interrupted = new Promise<void>((resolve) => {
  process.once('SIGINT', () => resolve());
  process.once('SIGTERM', () => resolve());
});

const status = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  homedir: homedir(),
  interrupted,
  // A getter, so stdin is only opened by the command that reads it.
  stdin: () => ({ stream: process.stdin, isTTY: process.stdin.isTTY === true }),
  stdoutStream: process.stdout,
});
process.exit(status);
