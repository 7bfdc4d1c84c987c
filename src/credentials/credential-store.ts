import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CarapaceError } from '../errors.js';
import { credentialValueProblem, CREDENTIAL_NAME_PATTERN, type CredentialMap } from '../wire/credential-message.js';
import { IDENTIFIER_PATTERN } from '../wire/names.js';
import {
  ensureOwnerOnlyDirectory,
  readOwnerOnlyFile,
  removeFile,
  verifyOwnerOnlyDirectory,
  writeOwnerOnlyFile,
} from './owner-only-files.js';

/** Whether a credential is stored; never its value. */
export interface CredentialStatus {
  readonly plugin: string;
  readonly name: string;
  readonly present: boolean;
}

/**
 * The host's credentials, one file per plugin per credential: `<root>/<plugin>/<NAME>`, the root
 * and plugin directories 0700, the files 0600, all owned by the user running Carapace. Every
 * plugin and credential name is checked against a pattern before it becomes part of a path, so
 * nothing a manifest or a command line says can point outside a plugin's own directory.
 */
export interface CredentialStore {
  readonly root: string;
  /** Stores `value` (UTF-8, no NUL, at most 64 KiB), replacing any previous one atomically. */
  set(plugin: string, name: string, value: string): Promise<void>;
  /** Removes a credential; CREDENTIAL_MISSING if there is none. */
  remove(plugin: string, name: string): Promise<void>;
  /** Every stored credential, by plugin then name. */
  status(): Promise<CredentialStatus[]>;
  /** One plugin's stored credentials, plus an absent entry for each `expected` name not stored. */
  status(plugin: string, expected?: readonly string[]): Promise<CredentialStatus[]>;
  /**
   * Exactly the credentials `names` from `plugin`'s directory: nothing else, from nowhere else.
   * CREDENTIAL_MISSING names the plugin and every missing name.
   */
  credentialsFor(plugin: string, names: readonly string[]): Promise<CredentialMap>;
  /** Every stored value, deduplicated: the sanitizer redacts them by exact match. */
  allValues(): Promise<string[]>;
}

export interface CredentialStoreOptions {
  /** The uid that must own every directory and file; the process's effective uid by default. */
  readonly uid?: number;
}

/**
 * Opens the store at `root` (the daemon uses $CARAPACE_HOME/credentials), creating it 0700 if it
 * is missing. Throws CREDENTIAL_INSECURE when it is a symlink, not owned by the user, or open to
 * group or others. Every operation checks the root again: the daemon lives long, files change.
 */
export async function openCredentialStore(root: string, options: CredentialStoreOptions = {}): Promise<CredentialStore> {
  const uid = options.uid ?? process.geteuid?.();
  if (uid === undefined) {
    // Without a uid there is no ownership check, and an unchecked secret store is not one we use.
    throw new CarapaceError('CREDENTIAL_INSECURE', 'cannot check file ownership on this platform', { details: { path: root } });
  }
  await ensureOwnerOnlyDirectory(root, uid);
  return new FileCredentialStore(root, uid);
}

class FileCredentialStore implements CredentialStore {
  constructor(
    readonly root: string,
    private readonly uid: number,
  ) {}

  async set(plugin: string, name: string, value: string): Promise<void> {
    const directory = await this.#pluginDirectory(plugin);
    verifyCredentialName(name);
    const problem = typeof value === 'string' ? credentialValueProblem(value) : 'is not a string';
    if (problem !== undefined) {
      throw new CarapaceError('CREDENTIAL_VALUE_INVALID', `the value for ${plugin} ${name} ${problem}`, { details: { plugin, name, problem } });
    }
    await ensureOwnerOnlyDirectory(directory, this.uid);
    await writeOwnerOnlyFile(directory, name, value);
  }

  async remove(plugin: string, name: string): Promise<void> {
    const directory = await this.#pluginDirectory(plugin);
    verifyCredentialName(name);
    // The plugin directory is checked first: a symlinked directory would make unlink act elsewhere.
    if (!(await verifyOwnerOnlyDirectory(directory, this.uid)) || !(await removeFile(directory, name))) {
      throw missing(plugin, [name]);
    }
  }

  async status(plugin?: string, expected: readonly string[] = []): Promise<CredentialStatus[]> {
    expected.forEach(verifyCredentialName);
    if (plugin !== undefined) await this.#pluginDirectory(plugin);
    const plugins = plugin === undefined ? await this.#storedPlugins() : [plugin];
    const result: CredentialStatus[] = [];
    for (const each of plugins) {
      const stored = await this.#storedNames(each);
      for (const name of stored) {
        // Reading (and discarding) the value runs every check on the file, so status reports an
        // insecure file now rather than the core at the next start.
        await readOwnerOnlyFile(join(this.root, each, name), this.uid);
        result.push({ plugin: each, name, present: true });
      }
      for (const name of expected) if (!stored.includes(name)) result.push({ plugin: each, name, present: false });
    }
    return result.sort((a, b) => compare(a.plugin, b.plugin) || compare(a.name, b.name));
  }

  async credentialsFor(plugin: string, names: readonly string[]): Promise<CredentialMap> {
    const directory = await this.#pluginDirectory(plugin);
    names.forEach(verifyCredentialName);
    const credentials: Record<string, string> = Object.create(null) as Record<string, string>;
    const absent: string[] = [];
    const exists = names.length > 0 && (await verifyOwnerOnlyDirectory(directory, this.uid));
    for (const name of new Set(names)) {
      const value = exists ? await readOwnerOnlyFile(join(directory, name), this.uid) : undefined;
      if (value === undefined) absent.push(name);
      else credentials[name] = value;
    }
    if (absent.length > 0) throw missing(plugin, absent);
    return Object.freeze(credentials);
  }

  async allValues(): Promise<string[]> {
    await this.#verifyRoot();
    const values = new Set<string>();
    for (const plugin of await this.#storedPlugins()) {
      for (const name of await this.#storedNames(plugin)) {
        const value = await readOwnerOnlyFile(join(this.root, plugin, name), this.uid);
        if (value !== undefined) values.add(value);
      }
    }
    return [...values];
  }

  /** The plugin's directory path, after checking the name and the root; it may not exist yet. */
  async #pluginDirectory(plugin: string): Promise<string> {
    verifyPluginName(plugin);
    await this.#verifyRoot();
    return join(this.root, plugin);
  }

  async #verifyRoot(): Promise<void> {
    if (!(await verifyOwnerOnlyDirectory(this.root, this.uid))) {
      throw new CarapaceError('CREDENTIAL_STORE_FAILED', `the credential store ${this.root} is gone`, { details: { path: this.root } });
    }
  }

  /** Plugin directories in the root, each checked; entries that cannot be plugin names are not ours. */
  async #storedPlugins(): Promise<string[]> {
    await this.#verifyRoot();
    const plugins = (await this.#list(this.root)).filter((entry) => IDENTIFIER_PATTERN.test(entry));
    for (const plugin of plugins) await verifyOwnerOnlyDirectory(join(this.root, plugin), this.uid);
    return plugins;
  }

  /** Credential names stored for a plugin; temp files and other names are never credentials. */
  async #storedNames(plugin: string): Promise<string[]> {
    const directory = join(this.root, plugin);
    if (!(await verifyOwnerOnlyDirectory(directory, this.uid))) return [];
    return (await this.#list(directory)).filter((entry) => CREDENTIAL_NAME_PATTERN.test(entry));
  }

  async #list(directory: string): Promise<string[]> {
    try {
      return (await readdir(directory)).sort(compare);
    } catch (error) {
      throw new CarapaceError('CREDENTIAL_STORE_FAILED', `cannot list ${directory}`, { cause: error, details: { path: directory } });
    }
  }
}

/** A plugin name is a lowercase identifier, the same shape manifests use: never `.`, `/` or NUL. */
export function verifyPluginName(plugin: unknown): asserts plugin is string {
  if (typeof plugin !== 'string' || !IDENTIFIER_PATTERN.test(plugin)) {
    throw new CarapaceError('CREDENTIAL_NAME_INVALID', `${quote(plugin)} is not a plugin name (lowercase letters, digits, _ and -)`, {
      details: { plugin: quote(plugin) },
    });
  }
}

/** A credential name is UPPER_SNAKE, like an environment variable: never `.`, `/` or NUL. */
export function verifyCredentialName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !CREDENTIAL_NAME_PATTERN.test(name)) {
    throw new CarapaceError('CREDENTIAL_NAME_INVALID', `${quote(name)} is not a credential name (such as API_TOKEN)`, {
      details: { name: quote(name) },
    });
  }
}

function missing(plugin: string, names: readonly string[]): CarapaceError {
  return new CarapaceError('CREDENTIAL_MISSING', `no credential ${names.join(', ')} stored for plugin ${plugin}`, {
    details: { plugin, names },
  });
}

/** A rejected name may be anything, even very long: show a bounded, escaped form of it. */
function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
