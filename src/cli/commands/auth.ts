import { lstat } from 'node:fs/promises';
import { ensureCarapaceHome, homeLayout } from '../../config/carapace-home.js';
import { openCredentialStore, verifyCredentialName, verifyPluginName, type CredentialStore } from '../../credentials/credential-store.js';
import { CarapaceError, isCarapaceError } from '../../errors.js';
import type { CommandContext, CommandResult } from '../command-result.js';

/** Produces the value for `auth set`; the program reads stdin or a hidden prompt (secret-input.ts). */
export type ReadCredentialValue = (prompt: string) => Promise<string>;

/**
 * `carapace auth set PLUGIN NAME`: stores one credential, its value read by `readValue`, never from
 * argv. The names and the home are checked before the value is asked for, so a mistake costs no retyping.
 */
export async function authSet(ctx: CommandContext, plugin: string, name: string, readValue: ReadCredentialValue): Promise<CommandResult> {
  verifyNamesQuietly(plugin, name);
  // An insecure home is refused before anyone types a secret into it.
  const layout = await ensureCarapaceHome(ctx.home);
  const store = await openCredentialStore(layout.credentials);
  const value = await readValue(`value for ${plugin} ${name} (not echoed): `);
  await store.set(plugin, name, value);
  return { text: `stored ${name} for plugin ${plugin}`, data: { plugin, name, stored: true } };
}

/** `carapace auth status [PLUGIN]`: which credentials are stored, per plugin. Names only, never values or lengths. */
export async function authStatus(ctx: CommandContext, plugin: string | undefined): Promise<CommandResult> {
  if (plugin !== undefined) verifyNamesQuietly(plugin);
  const store = await existingStore(ctx);
  const credentials = store === undefined ? [] : plugin === undefined ? await store.status() : await store.status(plugin);
  const data = { credentials: credentials.map(({ plugin: owner, name, present }) => ({ plugin: owner, name, present })) };
  if (credentials.length === 0) {
    return { text: plugin === undefined ? 'no credentials stored' : `no credentials stored for plugin ${plugin}`, data };
  }
  const lines: string[] = [];
  let current: string | undefined;
  for (const entry of credentials) {
    if (entry.plugin !== current) {
      current = entry.plugin;
      lines.push(current);
    }
    lines.push(`  ${entry.name}  ${entry.present ? 'stored' : 'missing'}`);
  }
  return { text: lines.join('\n'), data };
}

/** `carapace auth rm PLUGIN NAME`: removes one credential; CREDENTIAL_MISSING when there is none. */
export async function authRemove(ctx: CommandContext, plugin: string, name: string): Promise<CommandResult> {
  verifyNamesQuietly(plugin, name);
  const store = await existingStore(ctx);
  if (store === undefined) {
    throw new CarapaceError('CREDENTIAL_MISSING', `no credential ${name} stored for plugin ${plugin}`, { details: { plugin, names: [name] } });
  }
  await store.remove(plugin, name);
  return { text: `removed ${name} for plugin ${plugin}`, data: { plugin, name, removed: true } };
}

/**
 * Reading commands open the store only if it exists: `auth status` on a fresh machine says
 * "nothing stored" instead of creating a Carapace home as a side effect.
 */
async function existingStore(ctx: CommandContext): Promise<CredentialStore | undefined> {
  const root = homeLayout(ctx.home).credentials;
  try {
    await lstat(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CarapaceError('CREDENTIAL_STORE_FAILED', `cannot inspect ${root}`, { cause: error, details: { path: root } });
  }
  return openCredentialStore(root);
}

/**
 * The store's own checks quote a bad name back. On this command line a bad name is often a secret
 * typed where the name belongs (`auth set github ghp_...`), so say which argument is wrong, not what it was.
 */
function verifyNamesQuietly(plugin: string, name?: string): void {
  try {
    verifyPluginName(plugin);
  } catch (error) {
    throw quiet(error, 'PLUGIN', 'a plugin name is lowercase letters, digits, _ and -, such as github');
  }
  if (name === undefined) return;
  try {
    verifyCredentialName(name);
  } catch (error) {
    throw quiet(error, 'NAME', 'a credential name is UPPER_SNAKE, such as API_TOKEN');
  }
}

function quiet(error: unknown, argument: 'PLUGIN' | 'NAME', rule: string): unknown {
  if (!isCarapaceError(error) || error.code !== 'CREDENTIAL_NAME_INVALID') return error;
  return new CarapaceError('CREDENTIAL_NAME_INVALID', `${argument} is not valid (not shown, in case it is a secret): ${rule}`, {
    details: { argument },
  });
}
