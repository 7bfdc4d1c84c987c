import { spawn } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { createInterface } from 'node:readline';
import { homeLayout } from '../../config/carapace-home.js';
import { loadConfig } from '../../config/config-file.js';
import { readLiveCore } from '../../daemon/pid-lock.js';
import { CarapaceError } from '../../errors.js';
import { loadRevocationList } from '../../trust/revocation-list.js';
import { readTrustFile } from '../../trust/trust-file.js';
import { EMPTY_TRUST_POLICY } from '../../trust/trust-policy.js';
import { findInstallation, type Installation } from '../../update/installation.js';
import { openHttpReleaseSource } from '../../update/release-source.js';
import type { ReleaseTrust } from '../../update/stage-release.js';
import { applyUpdate, checkForUpdate, type CommandOutcome } from '../../update/update-installation.js';
import type { CommandContext, CommandResult } from '../command-result.js';
import type { SecretSource } from '../secret-input.js';

/** Asks a yes/no question; undefined when there is no terminal to ask on. */
export type AskYesNo = (question: string) => Promise<boolean | undefined>;

export interface UpdateCommandOptions {
  /** Only say whether a newer release is available. */
  readonly check?: boolean;
  /** Do not ask before installing. */
  readonly yes?: boolean;
  readonly ask?: AskYesNo;
  /** One line per step, for stderr. */
  readonly onProgress?: (line: string) => void;
  /** Resolves on Ctrl-C: before the swap the update stops cleanly, after it it finishes or rolls back. */
  readonly interrupted?: Promise<void>;
  /** The installed package root; defaults to the running Carapace's. Tests point it elsewhere. */
  readonly packageRoot?: string;
}

/**
 * `carapace update [--check] [--yes]`: fetches release.json from `update.url`, verifies it and the
 * tarball against the release key (config's `update.release_key`, else the one the installed
 * release shipped), installs it beside the current version, swaps it in and runs the new
 * version's `image build` and `doctor`, rolling back if either fails. Runs only when asked.
 */
export async function update(ctx: CommandContext, options: UpdateCommandOptions = {}): Promise<CommandResult> {
  const installation = await findInstallation(options.packageRoot);
  const layout = homeLayout(ctx.home);
  const { config } = await loadConfig(layout.configFile);
  const url = config.update.url;
  if (url === undefined) {
    throw new CarapaceError('UPDATE_NOT_CONFIGURED', 'update.url is not set, so Carapace does not know where releases are: carapace config set update.url URL');
  }
  const trust = await releaseTrust(config.update.release_key ?? installation.releaseKeyFile, layout.revocationFile);
  await using source = openHttpReleaseSource(url, { env: ctx.env });
  const abort = new AbortController();
  void options.interrupted?.then(() => abort.abort());
  const context = {
    installation,
    layout,
    source,
    trust,
    nodePath: process.execPath,
    runInstalled: (args: readonly string[]) => runInstalled(installation, ctx, args),
    signal: abort.signal,
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  };
  const check = await checkForUpdate(context);
  const signer = `release key ${check.signer.fingerprint}`;
  const data = { installed: check.current, available: check.manifest.version, newer: check.newer, url: source.url, signer: check.signer, artifact: check.artifact.name };
  if (options.check === true || !check.newer) {
    const text = check.newer
      ? `installed: ${check.current}\navailable: ${check.manifest.version} (release.json signed by ${signer})\nrun carapace update to install it`
      : `Carapace ${check.current} is up to date (${source.url} offers ${check.manifest.version}, signed by ${signer})`;
    return { text, data: { ...data, updated: false } };
  }

  const core = await readLiveCore(layout.pidFile);
  if (core !== undefined) {
    throw new CarapaceError('CORE_ALREADY_RUNNING', `a core is running for ${ctx.home} (pid ${core.pid}) on the installed code; stop it first (carapace stop), then update`);
  }
  if (options.yes !== true) {
    const answer = await options.ask?.(`Update Carapace ${check.current} to ${check.manifest.version} from ${source.url}? [y/N] `);
    if (answer === undefined) throw new CarapaceError('CLI_USAGE', 'no terminal to confirm the update on: pass --yes');
    if (!answer) throw new CarapaceError('CONFIRMATION_DENIED', `not updated; Carapace ${check.current} stays installed`);
  }
  const result = await applyUpdate(context, check);
  return {
    text:
      `updated Carapace ${result.from} -> ${result.to} in ${installation.dir}\n` +
      `verified: release.json and ${check.artifact.name} signed by ${signer}, the tarball's SHA-256 as release.json lists it\n` +
      `checked: carapace image build and carapace doctor passed with ${result.to}\n` +
      `${result.from} is kept in ${installation.previousDir}`,
    data: { ...data, updated: true },
  };
}

/** The release key, read like every trust file (ours, not writable by others, not a symlink). */
async function releaseTrust(keyFile: string, revocationFile: string): Promise<ReleaseTrust> {
  const pem = await readTrustFile(keyFile);
  if (pem === undefined) throw new CarapaceError('INSTALLATION_NOT_FOUND', `the release key ${keyFile} does not exist; set update.release_key or reinstall with install.sh`);
  try {
    createPublicKey(pem);
  } catch (error) {
    throw new CarapaceError('TRUST_POLICY_INVALID', `${keyFile} is not a PEM public key`, { cause: error, details: { file: keyFile } });
  }
  return {
    policy: { ...EMPTY_TRUST_POLICY, keys: [{ id: 'release', publicKeyPem: pem }] },
    revocations: await loadRevocationList(revocationFile),
  };
}

const POST_INSTALL_TIMEOUT_MS = 15 * 60_000;

/** Runs the installed wrapper (the new version, after the swap) for this home, capturing its output. */
function runInstalled(installation: Installation, ctx: CommandContext, args: readonly string[]): Promise<CommandOutcome> {
  const env = Object.fromEntries(Object.entries(ctx.env).filter((entry): entry is [string, string] => entry[1] !== undefined));
  return new Promise((resolve) => {
    const child = spawn(installation.wrapper, ['--home', ctx.home, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: POST_INSTALL_TIMEOUT_MS });
    let output = '';
    const collect = (chunk: Buffer): void => void (output = (output + chunk.toString('utf8')).slice(-64 * 1024));
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', (error) => resolve({ code: null, output: `${output}${error.message}\n` }));
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** A yes/no question on the terminal; only `y` or `yes` is yes. Without a terminal, undefined. */
export function terminalQuestion(stdin: (() => SecretSource) | undefined, write: (text: string) => void): AskYesNo {
  return async (question) => {
    const source = stdin?.();
    if (source === undefined || !source.isTTY) return undefined;
    const prompt = createInterface({ input: source.stream, terminal: false });
    try {
      write(question);
      const line = await new Promise<string | undefined>((resolve) => {
        prompt.once('line', resolve);
        prompt.once('close', () => resolve(undefined));
      });
      return line !== undefined && /^\s*y(es)?\s*$/i.test(line);
    } finally {
      prompt.close();
    }
  };
}
