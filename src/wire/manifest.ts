import { z } from 'zod';
import { CarapaceError } from '../errors.js';
import { createArgumentsCompiler, findSchemaIssues, type ArgumentsValidator } from './argument-schema.js';
import { isJsonObject, type JsonObject } from './json.js';
import { IDENTIFIER_PATTERN } from './names.js';

/**
 * A plugin's `manifest.json`: what it is, which image runs it, which tools it offers and what each
 * accepts. The manifest ships with the plugin, so it is untrusted input: every object is strict and
 * every tool's argument schema is checked for open objects and compiled here, once, at load time.
 * The format is documented field by field in docs/plugins.md.
 */

export const TOOL_RISKS = ['low', 'high'] as const;
export type ToolRisk = (typeof TOOL_RISKS)[number];

export interface ManifestTool {
  /** Called as `<plugin>.<name>`. */
  readonly name: string;
  readonly description: string;
  /** The JSON Schema of the arguments, as declared (closed objects only). */
  readonly arguments: JsonObject;
  /** `high` makes every call wait for an explicit confirmation. */
  readonly risk: ToolRisk;
  /** The `arguments` schema, compiled once when the manifest was parsed. */
  readonly validateArguments: ArgumentsValidator;
}

export interface StorageRequest {
  readonly persistent: true;
  readonly sizeMb: number;
}

export interface PluginManifest {
  readonly name: string;
  readonly version: string;
  /** An image reference; digest pinning is enforced elsewhere, by the trust policy. */
  readonly image: string;
  readonly tools: readonly ManifestTool[];
  /** Names of the credentials the plugin receives; never values. */
  readonly credentials: readonly string[];
  readonly storage: StorageRequest | undefined;
  /** Markdown files, relative to the manifest, that teach an agent to use the tools. */
  readonly skills: readonly string[];
}

export const MAX_TOOLS = 64;
export const MAX_STORAGE_MB = 1024;

// The official semver 2.0.0 grammar.
const SEMVER_PATTERN =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

// [registry[:port]/]path[:tag][@sha256:digest], after the distribution reference grammar. It cannot
// start with `-`, so it is never read as an option by a runtime CLI.
const IMAGE_REFERENCE_PATTERN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const MAX_IMAGE_CHARS = 255;

/** Credential names look like environment variables, though they never become one. */
const CREDENTIAL_NAME_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

// Each segment starts with a letter, digit, `_` or `-`, which rules out `.`, `..` and hidden files.
const SKILL_PATH_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*\.md$/;
const MAX_SKILL_PATH_CHARS = 255;

const identifier = z.string().regex(IDENTIFIER_PATTERN, 'must be a lowercase identifier (a-z, 0-9, _, -; at most 64)');

const toolArguments = z.custom<JsonObject>(isJsonObject, 'must be a JSON Schema object').superRefine((schema, ctx) => {
  for (const issue of findSchemaIssues(schema)) {
    ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path === '(schema)' ? [] : issue.path.split('.') });
  }
});

const ToolSchema = z.strictObject({
  name: identifier,
  description: z.string().min(1).max(2048),
  arguments: toolArguments,
  risk: z.enum(TOOL_RISKS),
});

const ManifestSchema = z.strictObject({
  name: identifier,
  version: z.string().max(256).regex(SEMVER_PATTERN, 'must be a semantic version such as 1.2.0'),
  image: z.string().refine(isImageReference, `must be an image reference such as registry.example/name:tag (at most ${String(MAX_IMAGE_CHARS)} characters)`),
  tools: z.array(ToolSchema).max(MAX_TOOLS).superRefine((tools, ctx) => {
    reportDuplicates(tools.map((tool) => tool.name), 'tool name', ctx);
  }),
  credentials: z
    .array(z.string().regex(CREDENTIAL_NAME_PATTERN, 'must be an UPPER_SNAKE name such as API_TOKEN'))
    .max(32)
    .default([])
    .superRefine((names, ctx) => reportDuplicates(names, 'credential', ctx)),
  storage: z.strictObject({ persistent: z.literal(true), sizeMb: z.number().int().min(1).max(MAX_STORAGE_MB) }).optional(),
  skills: z
    .array(z.string().superRefine(checkSkillPath))
    .max(64)
    .default([])
    .superRefine((paths, ctx) => reportDuplicates(paths, 'skill', ctx)),
});

/** One bad field of a manifest, as a dotted path. */
export interface ManifestIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * Narrows a parsed `manifest.json` to a `PluginManifest`, compiling each tool's argument schema.
 * Throws `MANIFEST_INVALID` whose message names `file` and every bad field, an unknown field, an
 * open object schema or a schema Ajv cannot compile; `details.issues` lists them.
 */
export function parseManifest(json: unknown, file: string): PluginManifest {
  const result = ManifestSchema.safeParse(json);
  const issues = result.success ? [] : result.error.issues.flatMap(toManifestIssues);
  const validators = compileTools(json, issues);
  if (!result.success || issues.length > 0) {
    const listed = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
    throw new CarapaceError('MANIFEST_INVALID', `${file}: invalid plugin manifest: ${listed}`, { details: { file, issues } });
  }
  const manifest = result.data;
  return {
    name: manifest.name,
    version: manifest.version,
    image: manifest.image,
    tools: manifest.tools.map((tool, index) => ({ ...tool, validateArguments: validators[index] ?? refuseAll })),
    credentials: manifest.credentials,
    storage: manifest.storage,
    skills: manifest.skills,
  };
}

/**
 * Compiles the argument schema of every tool that has no structural issue (so Ajv never sees an
 * open schema), even when other fields are bad, so one pass reports compile errors too. Appends
 * a compile failure, naming the tool, to `issues`.
 */
function compileTools(json: unknown, issues: ManifestIssue[]): (ArgumentsValidator | undefined)[] {
  const tools = isJsonObject(json) && Array.isArray(json['tools']) ? json['tools'] : [];
  const compile = createArgumentsCompiler();
  const structural = issues.map((issue) => issue.path);
  return tools.map((tool: unknown, index) => {
    const prefix = `tools.${String(index)}`;
    if (!isJsonObject(tool) || structural.some((path) => path === prefix || path.startsWith(`${prefix}.`))) return undefined;
    const schema = tool['arguments'];
    if (!isJsonObject(schema)) return undefined;
    const compiled = compile(schema);
    if (compiled.ok) return compiled.validate;
    issues.push({ path: `${prefix}.arguments`, message: `arguments schema of tool "${String(tool['name'])}" does not compile: ${compiled.message}` });
    return undefined;
  });
}

/** Never used for a manifest that parsed; there only so a missing validator fails closed. */
const refuseAll: ArgumentsValidator = () => [{ path: '(arguments)', message: 'no compiled schema' }];

function toManifestIssues(issue: z.core.$ZodIssue): ManifestIssue[] {
  const at = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...at, key].join('.'), message: 'unknown field' }));
  }
  return [{ path: at.length === 0 ? '(manifest)' : at.join('.'), message: issue.message }];
}

function isImageReference(value: string): boolean {
  return value.length <= MAX_IMAGE_CHARS && IMAGE_REFERENCE_PATTERN.test(value);
}

// A skill path is joined to the plugin directory by the loader: `..` or an absolute path would let
// a manifest make the core read (and hand an agent) any file on the host.
function checkSkillPath(path: string, ctx: z.RefinementCtx): void {
  const problem =
    path.startsWith('/') || /^[A-Za-z]:/.test(path) ? 'must be relative, not absolute'
    : path.split(/[\\/]/).includes('..') ? 'must not contain ".."'
    : path.length > MAX_SKILL_PATH_CHARS || !SKILL_PATH_PATTERN.test(path) ? 'must be a relative path to a .md file (a-z, A-Z, 0-9, ., _, -, /)'
    : undefined;
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
}

function reportDuplicates(values: readonly string[], what: string, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  values.forEach((value, index) => {
    if (seen.has(value)) ctx.addIssue({ code: 'custom', message: `duplicate ${what} "${value}"`, path: [index] });
    seen.add(value);
  });
}
