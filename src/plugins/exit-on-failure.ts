/**
 * Ends a built-in plugin whose start or run failed. Only the error's code goes to stderr (which the
 * core keeps): `CREDENTIAL_MESSAGE_INVALID`, `SQLITE_CANTOPEN`, `EACCES`. Never the message, which
 * could quote a credential or a note. `process.exitCode` rather than `process.exit`, so stderr is
 * flushed before the process ends.
 */
export function exitOnFailure(plugin: string): (error: unknown) => void {
  return (error) => {
    process.stderr.write(`${plugin}: plugin stopped: ${errorCodeOf(error)}\n`);
    process.exitCode = 1;
  };
}

/** CarapaceError, SqliteError and Node's system errors all carry a string `code`. */
export function errorCodeOf(error: unknown): string {
  const code: unknown = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : 'INTERNAL';
}
