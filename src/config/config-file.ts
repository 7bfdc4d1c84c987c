import { readFile } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { parse, stringify, TomlError } from 'smol-toml';
import { CarapaceError, toCarapaceError } from '../errors.js';
import {
  findSetting,
  parseConfig,
  settingValue,
  SETTINGS,
  type CarapaceConfig,
  type ConfigIssue,
  type Setting,
  type SettingKey,
  type SettingValue,
} from '../wire/config.js';
import { nodeAtomicWriteSteps, writeFileAtomic, type AtomicWriteSteps } from './atomic-write.js';
import { editTomlValue } from './toml-edit.js';

/** config.toml holds no secrets, but nothing in the home needs to be readable by others. */
const CONFIG_FILE_MODE = 0o600;

export interface LoadedConfig {
  readonly file: string;
  /** Whether the file exists; a missing file means every setting has its default. */
  readonly exists: boolean;
  readonly config: CarapaceConfig;
  /** The settings the file sets itself; every other one has its default. */
  readonly explicitKeys: readonly SettingKey[];
}

type TomlTable = Record<string, unknown>;

/** Reads and validates `file`. Throws CONFIG_UNREADABLE, CONFIG_MALFORMED or CONFIG_INVALID. */
export async function loadConfig(file: string): Promise<LoadedConfig> {
  const source = await readConfigSource(file);
  const document = source === undefined ? {} : parseToml(file, source);
  return { file, exists: source !== undefined, config: verifyDocument(file, document), explicitKeys: explicitKeys(document) };
}

/** The value of one dotted setting; CONFIG_UNKNOWN_KEY for a key that is not a setting. */
export function getSetting(config: CarapaceConfig, key: string): SettingValue | undefined {
  return settingValue(config, verifySettingKey(key));
}

export interface SetSettingOptions {
  /** Injected by tests to make a write step fail. */
  readonly steps?: AtomicWriteSteps;
}

export interface SetSettingResult {
  readonly key: SettingKey;
  readonly value: SettingValue;
  readonly config: CarapaceConfig;
}

/**
 * Sets one setting from its command-line spelling. The whole resulting document is validated before
 * anything is written, so a file that is invalid elsewhere is refused rather than silently rewritten
 * (setting the one bad key to a good value is allowed: that repair is what the user asked for).
 * The write is atomic: if it fails, the file keeps its exact previous bytes, except when only the
 * final directory fsync fails, after the new file is already in place.
 */
export async function setSetting(file: string, key: string, rawValue: string, options: SetSettingOptions = {}): Promise<SetSettingResult> {
  const setting = verifySettingKey(key);
  const value = parseRawValue(file, setting, rawValue);
  const source = (await readConfigSource(file)) ?? '';
  const next = parseToml(file, source);
  const section = next[setting.section] ?? {};
  // A section that is not a table (`runtime = 5`) cannot take the key: report it as loading would.
  if (!isTable(section)) verifyDocument(file, next);
  next[setting.section] = { ...(section as TomlTable), [setting.name]: value };
  const config = verifyDocument(file, next);

  try {
    await writeFileAtomic(file, renderDocument(source, setting, value, next), CONFIG_FILE_MODE, options.steps ?? nodeAtomicWriteSteps);
  } catch (error) {
    throw toCarapaceError(error, 'CONFIG_WRITE_FAILED', `cannot write ${file}`);
  }
  return { key: setting.key, value, config };
}

/** The setting a dotted key names; CONFIG_UNKNOWN_KEY, listing the real ones, for any other key. */
export function verifySettingKey(key: string): Setting {
  const setting = findSetting(key);
  if (setting !== undefined) return setting;
  const known = SETTINGS.map((candidate) => candidate.key).join(', ');
  throw new CarapaceError('CONFIG_UNKNOWN_KEY', `unknown setting ${JSON.stringify(key)}; settings are: ${known}`, {
    details: { key },
  });
}

async function readConfigSource(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof Error && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw toCarapaceError(error, 'CONFIG_UNREADABLE', `cannot read ${file}`);
  }
}

function parseToml(file: string, source: string): TomlTable {
  try {
    // A `__proto__` key could reach object prototypes downstream; refuse it as a syntax problem.
    return parse(source, { unsafeKeyBehaviour: 'throw' });
  } catch (error) {
    if (!(error instanceof TomlError)) throw toCarapaceError(error, 'CONFIG_MALFORMED', `${file} is not valid TOML`);
    const reason = error.message.split('\n')[0] ?? error.message;
    throw new CarapaceError('CONFIG_MALFORMED', `${file}:${error.line}:${error.column}: not valid TOML: ${reason}`, {
      cause: error,
      details: { file, line: error.line, column: error.column },
    });
  }
}

function verifyDocument(file: string, document: TomlTable): CarapaceConfig {
  const result = parseConfig(document);
  if (result.ok) return result.config;
  throw new CarapaceError('CONFIG_INVALID', `${file} has invalid settings: ${result.issues.map(formatIssue).join('; ')}`, {
    details: { file, issues: result.issues },
  });
}

function formatIssue(issue: ConfigIssue): string {
  return issue.message === 'unknown key' ? `unknown key ${issue.path}` : `${issue.path}: ${issue.message}`;
}

function explicitKeys(document: TomlTable): SettingKey[] {
  return SETTINGS.filter((setting) => {
    const section = document[setting.section];
    return isTable(section) && section[setting.name] !== undefined;
  }).map((setting) => setting.key);
}

/** Turns the command-line spelling into the TOML value; the schema then checks the range. */
function parseRawValue(file: string, setting: Setting, raw: string): SettingValue {
  const invalid = (expected: string): CarapaceError =>
    new CarapaceError('CONFIG_INVALID', `${setting.key}: expected ${expected}, got ${JSON.stringify(raw)} (not written to ${file})`, {
      details: { file, key: setting.key },
    });
  switch (setting.type) {
    case 'integer':
      if (!/^-?[0-9]+$/.test(raw)) throw invalid('a whole number');
      return Number(raw);
    case 'number':
      if (!/^-?[0-9]+(\.[0-9]+)?$/.test(raw)) throw invalid('a number');
      return Number(raw);
    case 'enum':
      if (!setting.values.includes(raw)) throw invalid(`one of ${setting.values.join(', ')}`);
      return raw;
    case 'path':
    case 'url':
      return raw;
  }
}

/**
 * The text to write: an in-place edit that keeps the user's comments when it provably yields the
 * intended document, otherwise the whole document re-serialised (comments lost, values kept).
 */
function renderDocument(source: string, setting: Setting, value: SettingValue, intended: TomlTable): string {
  const edited = editTomlValue(source, setting.section, setting.name, value);
  if (edited !== undefined && isDeepStrictEqual(toPlain(tryParse(edited)), toPlain(intended))) return edited;
  return stringify(intended);
}

function tryParse(source: string): unknown {
  try {
    return parse(source, { unsafeKeyBehaviour: 'throw' });
  } catch {
    // The edit produced something unparsable: the caller falls back to a full re-serialisation.
    return undefined;
  }
}

/** smol-toml builds null-prototype tables; copy them into plain objects so equality compares content only. */
function toPlain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toPlain);
  if (isTable(value) && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, toPlain(inner)]));
  }
  return value;
}

function isTable(value: unknown): value is TomlTable {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
