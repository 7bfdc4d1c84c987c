import { z } from 'zod';
import { CarapaceError } from '../errors.js';

/**
 * The schema of `config.toml`. The file is untrusted input (anything may have written it), so every
 * object is strict: a misspelt key is an error, never a silently ignored setting.
 */

const MIB = 1024 * 1024;
const NANO_CPUS_PER_CPU = 1_000_000_000;

/** Container limits in a resource-limit shape the hardened spec accepts (`ResourceLimits` in core). */
export interface ConfiguredLimits {
  readonly pids: number;
  readonly memoryBytes: number;
  readonly nanoCpus: number;
}

/**
 * The same numbers as MAX_LIMITS and DEFAULT_LIMITS in src/core/container-spec.ts, in config units.
 * wire/ sits below core/ and may not import it, so config.test.ts holds the two in step instead.
 */
export const CONTAINER_LIMIT_CEILINGS = { pids: 256, memory_mb: 512, cpus: 1.0 } as const;
export const CONTAINER_LIMIT_DEFAULTS = { pids: 64, memory_mb: 256, cpus: 0.5 } as const;

export const RUNTIME_PREFERENCES = ['auto', 'apple', 'podman', 'docker'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
/** The same names as AUDIT_SYNC_MODES in src/store/audit-log.ts; config.test.ts holds them in step. */
export const AUDIT_SYNC_SETTINGS = ['batched', 'full'] as const;
export type RuntimePreference = (typeof RUNTIME_PREFERENCES)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Docker refuses containers with less memory than this. */
const MIN_MEMORY_MB = 6;

const unixSocketPath = z
  .string()
  .refine((value) => value.startsWith('/'), 'must be an absolute path')
  .refine((value) => !value.includes('\0'), 'must not contain a NUL byte')
  .meta({ format: 'path' });

const absolutePath = z
  .string()
  .refine((value) => value.startsWith('/'), 'must be an absolute path')
  .refine((value) => !value.includes('\0'), 'must not contain a NUL byte')
  .meta({ format: 'path' });

/**
 * Where releases come from. HTTPS, or plain HTTP only on this machine: the signature decides what
 * is installed, but over plain HTTP anyone on the path could see that Carapace updates, or hold
 * back a release by answering with an older one.
 */
export function isReleaseUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return false;
  if (url.protocol === 'https:') return true;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return url.protocol === 'http:' && (host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host));
}

const releaseUrl = z
  .string()
  .max(2048)
  .refine(isReleaseUrl, 'must be an https:// URL without credentials or query (http:// only on 127.0.0.1, ::1 or localhost)')
  .meta({ format: 'uri' });

const RuntimeSection = z.strictObject({
  preference: z
    .enum(RUNTIME_PREFERENCES)
    .default('auto')
    .describe('Which container runtime to use; `auto` picks the most isolated one found.'),
  socket: unixSocketPath
    .optional()
    .describe('Unix socket of a Docker-compatible API; overrides runtime discovery.'),
});

// A config can lower a container limit but never raise it past the hardened spec's ceiling.
const ContainerSection = z.strictObject({
  pids: z
    .number()
    .int()
    .min(1)
    .max(CONTAINER_LIMIT_CEILINGS.pids)
    .default(CONTAINER_LIMIT_DEFAULTS.pids)
    .describe('Maximum processes and threads in each plugin container.'),
  memory_mb: z
    .number()
    .int()
    .min(MIN_MEMORY_MB)
    .max(CONTAINER_LIMIT_CEILINGS.memory_mb)
    .default(CONTAINER_LIMIT_DEFAULTS.memory_mb)
    .describe('Memory limit of each plugin container, in MiB.'),
  cpus: z
    .number()
    .min(0.01)
    .max(CONTAINER_LIMIT_CEILINGS.cpus)
    .default(CONTAINER_LIMIT_DEFAULTS.cpus)
    .describe('CPU quota of each plugin container, in cores.'),
});

// Generous defaults for one person's agent; a benchmark or a busy agent raises them.
const CallsSection = z.strictObject({
  timeout_ms: z
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(30_000)
    .describe('How long a plugin may take to answer one call before the caller gets CALL_TIMEOUT.'),
  confirm_timeout_ms: z
    .number()
    .int()
    .min(1000)
    .max(600_000)
    .default(60_000)
    .describe('How long a high-risk call waits for a person to confirm it; no answer denies it.'),
  caller_rate: z
    .number()
    .min(0.1)
    .max(1_000_000)
    .default(200)
    .describe('Calls per second one caller may make, sustained (token bucket refill).'),
  caller_burst: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(400)
    .describe('Calls one caller may make at once before its rate applies (token bucket capacity).'),
  tool_rate: z
    .number()
    .min(0.1)
    .max(1_000_000)
    .default(1000)
    .describe('Calls per second one tool accepts from all callers together, sustained.'),
  tool_burst: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(2000)
    .describe('Calls one tool accepts at once from all callers before its rate applies.'),
});

// Nothing here makes Carapace contact anything: only `carapace update` reads these, when run.
const UpdateSection = z.strictObject({
  url: releaseUrl
    .optional()
    .describe('Where `carapace update` fetches release.json and the tarballs; not set: update refuses to run.'),
  release_key: absolutePath
    .optional()
    .describe('Public key (PEM) every release must be signed with; not set: the installed release\'s release-key.pem.'),
});

const LogSection = z.strictObject({
  level: z.enum(LOG_LEVELS).default('info').describe('Lowest level written to `logs/carapace.log`.'),
});

// Either way an intent is committed before its call is dispatched; this decides only when it is
// fsynced, which is what a power loss (not a killed core) can undo.
const AuditSection = z.strictObject({
  sync: z
    .enum(AUDIT_SYNC_SETTINGS)
    .default('batched')
    .describe('When audit records reach the disk: `batched` fsyncs in the background within 100 ms, `full` fsyncs each intent before dispatch.'),
});

// `prefault({})` runs the section's own defaults when the section is absent (`default` would not).
export const ConfigSchema = z.strictObject({
  runtime: RuntimeSection.prefault({}),
  container: ContainerSection.prefault({}),
  calls: CallsSection.prefault({}),
  log: LogSection.prefault({}),
  audit: AuditSection.prefault({}),
  update: UpdateSection.prefault({}),
});

/** A complete, validated configuration: every setting has a value or is an explicitly optional one. */
export type CarapaceConfig = z.output<typeof ConfigSchema>;
export type ConfigSection = keyof CarapaceConfig;
/** Dotted setting names, `runtime.preference` and so on, derived from the config type. */
export type SettingKey = {
  [S in ConfigSection]: `${S}.${keyof CarapaceConfig[S] & string}`;
}[ConfigSection];
export type SettingValue = string | number;

/** One problem in a config document, with the dotted path of the key it concerns. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

export type ConfigParseResult =
  | { readonly ok: true; readonly config: CarapaceConfig }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

/** Narrows a parsed TOML document to a config, reporting every bad or unknown key. */
export function parseConfig(document: unknown): ConfigParseResult {
  const result = ConfigSchema.safeParse(document);
  if (result.success) return { ok: true, config: result.data };
  return { ok: false, issues: result.error.issues.flatMap(toConfigIssues) };
}

function toConfigIssues(issue: z.core.$ZodIssue): ConfigIssue[] {
  const at = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...at, key].join('.'), message: 'unknown key' }));
  }
  return [{ path: at.length === 0 ? '(document)' : at.join('.'), message: issue.message }];
}

/** The container limits a config asks for, in the units of the hardened spec. */
export function toResourceLimits(config: CarapaceConfig): ConfiguredLimits {
  return {
    pids: config.container.pids,
    memoryBytes: config.container.memory_mb * MIB,
    nanoCpus: Math.round(config.container.cpus * NANO_CPUS_PER_CPU),
  };
}

export type SettingType = 'enum' | 'integer' | 'number' | 'path' | 'url';

/** A settable key as `config get/set` and docs/configuration.md see it. */
export interface Setting {
  readonly key: SettingKey;
  readonly section: ConfigSection;
  readonly name: string;
  readonly type: SettingType;
  /** The allowed values of an enum setting, otherwise empty. */
  readonly values: readonly string[];
  readonly minimum: number | undefined;
  readonly maximum: number | undefined;
  /** `undefined` for an optional setting that has no default. */
  readonly defaultValue: SettingValue | undefined;
  readonly description: string;
}

/** Every settable key, read off the schema's JSON Schema form so the list cannot drift from it. */
export const SETTINGS: readonly Setting[] = deriveSettings();

export function findSetting(key: string): Setting | undefined {
  return SETTINGS.find((setting) => setting.key === key);
}

/** Reads a setting's value out of a validated config. */
export function settingValue(config: CarapaceConfig, setting: Setting): SettingValue | undefined {
  const section: Readonly<Record<string, SettingValue | undefined>> = config[setting.section];
  return section[setting.name];
}

/** Human-readable range of a setting: `1..256`, `auto | apple | ...`, `absolute path`. */
export function describeAllowed(setting: Setting): string {
  switch (setting.type) {
    case 'enum':
      return setting.values.join(' | ');
    case 'path':
      return 'absolute path';
    case 'url':
      return 'https URL (http on loopback)';
    case 'integer':
    case 'number':
      return `${String(setting.minimum)}..${String(setting.maximum)}`;
  }
}

type JsonSchemaNode = z.core.JSONSchema.JSONSchema;

function deriveSettings(): Setting[] {
  const root = z.toJSONSchema(ConfigSchema, { io: 'input' });
  const settings: Setting[] = [];
  for (const [section, sectionNode] of Object.entries(root.properties ?? {})) {
    for (const [name, leaf] of Object.entries(asNode(sectionNode).properties ?? {})) {
      settings.push(toSetting(section as ConfigSection, name, asNode(leaf)));
    }
  }
  return settings;
}

function toSetting(section: ConfigSection, name: string, leaf: JsonSchemaNode): Setting {
  const key = `${section}.${name}` as SettingKey;
  const defaultValue = leaf.default;
  if (defaultValue !== undefined && typeof defaultValue !== 'string' && typeof defaultValue !== 'number') {
    throw new CarapaceError('INTERNAL', `setting ${key} has a default that is neither a string nor a number`);
  }
  return {
    key,
    section,
    name,
    type: settingType(key, leaf),
    values: (leaf.enum ?? []).map(String),
    minimum: leaf.minimum,
    maximum: leaf.maximum,
    defaultValue,
    description: leaf.description ?? '',
  };
}

function settingType(key: string, leaf: JsonSchemaNode): SettingType {
  if (leaf.enum !== undefined) return 'enum';
  if (leaf.type === 'integer' || leaf.type === 'number') return leaf.type;
  if (leaf.type === 'string' && leaf.format === 'path') return 'path';
  if (leaf.type === 'string' && leaf.format === 'uri') return 'url';
  // A schema change this function does not know yet: fail at import, not at `config set` time.
  throw new CarapaceError('INTERNAL', `setting ${key} has a type config get/set cannot handle`);
}

function asNode(node: z.core.JSONSchema._JSONSchema): JsonSchemaNode {
  if (typeof node === 'boolean') throw new CarapaceError('INTERNAL', 'unexpected boolean JSON Schema node in the config schema');
  return node;
}
