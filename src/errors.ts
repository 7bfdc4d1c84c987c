/**
 * Every failure Carapace reports carries one of these codes. The set is closed so that callers
 * (the CLI's exit-code table, tests, `--json` consumers) can match on it exhaustively.
 */
export const ERROR_CODES = [
  // CLI input and output
  'CLI_USAGE',
  'CLI_OUTPUT_FAILED',
  // Carapace home directory and its owner-only subdirectories
  'HOME_INSECURE',
  'HOME_UNAVAILABLE',
  // config.toml
  'CONFIG_UNREADABLE',
  'CONFIG_MALFORMED',
  'CONFIG_INVALID',
  'CONFIG_UNKNOWN_KEY',
  'CONFIG_WRITE_FAILED',
  // container runtimes
  'RUNTIME_NOT_FOUND',
  'RUNTIME_UNAVAILABLE',
  'RUNTIME_REQUEST_FAILED',
  'RUNTIME_UNSUPPORTED',
  'CONTAINER_START_FAILED',
  'CONTAINER_NOT_FOUND',
  'CONTAINER_TIMEOUT',
  'SPEC_VIOLATION',
  // images
  'IMAGE_NOT_FOUND',
  'IMAGE_REFERENCE_INVALID',
  'IMAGE_BUILD_FAILED',
  'IMAGE_LOAD_FAILED',
  // core lifecycle
  'CORE_ALREADY_RUNNING',
  'CORE_NOT_RUNNING',
  'CORE_STOP_TIMEOUT',
  // doctor
  'DOCTOR_CHECKS_FAILED',
  // plugin manifests
  'MANIFEST_INVALID',
  'PLUGIN_START_FAILED',
  // wire messages from containers, checked in this order
  'WIRE_FRAME_TOO_LARGE',
  'WIRE_INVALID_UTF8',
  'WIRE_MALFORMED_JSON',
  'WIRE_FORBIDDEN_KEY',
  'WIRE_TOO_DEEP',
  'WIRE_NOT_OBJECT',
  'WIRE_UNKNOWN_FIELD',
  'WIRE_INVALID_TOPIC',
  'WIRE_INVALID_CORRELATION',
  'WIRE_INVALID_MESSAGE',
  // the tool-call pipeline, by stage
  'TOPIC_UNKNOWN',
  'ARGUMENTS_INVALID',
  'UNAUTHORIZED',
  'RATE_LIMITED',
  'CONFIRMATION_DENIED',
  'CONFIRMATION_TIMEOUT',
  'CONFIRMATION_UNKNOWN',
  'ROUTE_UNAVAILABLE',
  'CALL_TIMEOUT',
  'PLUGIN_ERROR',
  // audit log
  'AUDIT_INSECURE',
  'AUDIT_UNAVAILABLE',
  'AUDIT_NOT_FOUND',
  'AUDIT_WRITE_FAILED',
  'AUDIT_CHAIN_BROKEN',
  // host credential store and stdin delivery
  'CREDENTIAL_INSECURE',
  'CREDENTIAL_MISSING',
  'CREDENTIAL_NAME_INVALID',
  'CREDENTIAL_VALUE_INVALID',
  'CREDENTIAL_STORE_FAILED',
  'CREDENTIAL_MESSAGE_INVALID',
  // supply chain: digest pinning, signatures, revocation, registries
  'IMAGE_NOT_PINNED',
  'IMAGE_DIGEST_MISMATCH',
  'SIGNATURE_MISSING',
  'SIGNATURE_INVALID',
  'SIGNATURE_IDENTITY_MISMATCH',
  'SIGNATURE_ISSUER_MISMATCH',
  'SIGNATURE_UNTRUSTED',
  'SIGNATURE_TLOG_MISSING',
  'SIGNATURE_TIMESTAMP_MISSING',
  'SIGNING_FAILED',
  'TRUST_REVOKED',
  'TRUST_POLICY_INVALID',
  'LOCK_INVALID',
  'REGISTRY_UNAVAILABLE',
  'REGISTRY_REFUSED',
  // installation, releases, update and uninstall
  'INSTALLATION_NOT_FOUND',
  'UPDATE_NOT_CONFIGURED',
  'RELEASE_UNAVAILABLE',
  'RELEASE_INVALID',
  'RELEASE_DIGEST_MISMATCH',
  'UPDATE_FAILED',
  'UPDATE_ROLLBACK_FAILED',
  'UNINSTALL_FAILED',
  // MCP clients' own configuration files (`carapace client setup|remove`)
  'CLIENT_CONFIG_UNREADABLE',
  'CLIENT_CONFIG_INVALID',
  'CLIENT_CONFIG_WRITE_FAILED',
  // the MCP front's HTTP transport (`carapace mcp --http`)
  'MCP_BIND_REFUSED',
  // a bug: an invariant Carapace itself broke
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface CarapaceErrorOptions {
  readonly cause?: unknown;
  /** Plain, non-secret facts for `--json` output and logs (a file path, a key name). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The one error type Carapace throws. Tests assert `code`, never the message. */
export class CarapaceError extends Error {
  override readonly name = 'CarapaceError';
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: CarapaceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** True when `code` (from a reply, a file) is one of Carapace's codes. */
export function isErrorCode(code: string): code is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code);
}

export function isCarapaceError(value: unknown): value is CarapaceError {
  return value instanceof CarapaceError;
}

/** Keeps a CarapaceError as it is and wraps anything else under `code`, keeping the cause. */
export function toCarapaceError(value: unknown, code: ErrorCode, message: string): CarapaceError {
  if (isCarapaceError(value)) return value;
  const reason = value instanceof Error ? value.message : String(value);
  return new CarapaceError(code, `${message}: ${reason}`, { cause: value });
}
