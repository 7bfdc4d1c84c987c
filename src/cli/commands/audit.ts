import { resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { homeLayout } from '../../config/carapace-home.js';
import { CarapaceError, isCarapaceError } from '../../errors.js';
import type { ChainAnchor } from '../../store/audit-chain.js';
import { chainBrokenError } from '../../store/audit-log.js';
import { openAuditReader, type AuditReader } from '../../store/audit-reader.js';
import type { AuditEntry } from '../../store/audit-record.js';
import { formatAuditLine } from '../audit-line.js';
import type { CommandContext, CommandResult } from '../command-result.js';
import { writeStreamAtomic } from '../write-stream-atomic.js';

export interface AuditTailOptions {
  /** How many of the most recent records to show. */
  readonly lines: number;
  /** Keep printing new records as the core appends them, until `until` resolves. */
  readonly follow?: AuditFollow;
}

export interface AuditFollow {
  /** Resolves when the user asks to stop (SIGINT/SIGTERM, wired in main.ts). */
  readonly until: Promise<void>;
  /** Writes one chunk of output as soon as it is ready. */
  readonly emit: (text: string) => void;
  /** How often to look for new records; 250 ms unless a test needs it faster. */
  readonly pollMs?: number;
}

/**
 * `carapace audit tail`: the last records, one line each. A missing log is not an error here (a
 * fresh install has none yet, as `carapace logs` treats its file); `verify` and `export` refuse it.
 */
export async function auditTail(ctx: CommandContext, options: AuditTailOptions): Promise<CommandResult> {
  const file = homeLayout(ctx.home).auditFile;
  if (options.follow !== undefined) return follow(ctx, file, options.lines, options.follow);
  const reader = openIfPresent(file);
  if (reader === undefined) return { text: `no audit log yet: ${file} does not exist`, data: { file, records: [] } };
  using _reader = reader;
  const records = reader.tail(options.lines);
  return { text: records.map(formatAuditLine).join('\n'), data: { file, records } };
}

async function follow(ctx: CommandContext, file: string, lines: number, options: AuditFollow): Promise<CommandResult> {
  let stopped = false;
  let wake: (() => void) | undefined;
  void options.until.then(() => {
    stopped = true;
    wake?.();
  });
  const render = (entry: AuditEntry): string => (ctx.json ? `${JSON.stringify(entry)}\n` : `${formatAuditLine(entry)}\n`);
  let reader: AuditReader | undefined;
  let last: number | undefined;
  let printed = 0;
  try {
    while (!stopped) {
      reader ??= openIfPresent(file, { waitForSchema: true });
      if (reader !== undefined) {
        const batch = last === undefined ? reader.tail(lines) : reader.after(last, FOLLOW_BATCH);
        if (last === undefined) last = 0;
        for (const entry of batch) {
          options.emit(render(entry));
          last = entry.seq;
        }
        printed += batch.length;
        // A full batch means more are waiting: read on without sleeping.
        if (batch.length === FOLLOW_BATCH) continue;
      }
      await new Promise<void>((done) => {
        const timer = setTimeout(done, options.pollMs ?? 250);
        wake = () => {
          clearTimeout(timer);
          done();
        };
      });
    }
  } finally {
    reader?.close();
  }
  return { text: '', data: { file, followed: true, records: printed } };
}

const FOLLOW_BATCH = 500;

export interface AuditExportOptions {
  /** Where to write; standard output when absent. */
  readonly output?: string;
  /** Standard output as a stream, so a slow reader (a pipe) holds the export back instead of memory filling up. */
  readonly stdout: NodeJS.WritableStream;
  /** One line for a person, kept off stdout when stdout carries the records. */
  readonly notice: (line: string) => void;
}

/** `carapace audit export --jsonl`: every record up to the current head, one JSON object per line. */
export async function auditExport(ctx: CommandContext, options: AuditExportOptions): Promise<CommandResult> {
  if (options.output === undefined && ctx.json) {
    throw new CarapaceError('CLI_USAGE', '--json needs --output FILE: without it, standard output already carries the JSON lines');
  }
  const file = homeLayout(ctx.home).auditFile;
  using reader = openAuditReader(file);
  const head = reader.head() ?? null;
  if (options.output === undefined) {
    const records = await writeToStdout(reader, options.stdout);
    options.notice(`exported ${records} records from ${file}\n`);
    return { text: '', data: { file, records, head } };
  }
  const output = resolve(options.output);
  // The export holds sanitized arguments of every call: owner-only, like the log itself.
  const records = await writeStreamAtomic(output, 0o600, (stream) => reader.exportJsonlTo(stream));
  return { text: `exported ${records} records to ${output}`, data: { file, output, records, head } };
}

async function writeToStdout(reader: AuditReader, stdout: NodeJS.WritableStream): Promise<number> {
  // A closed pipe (`| head`) emits 'error'; without a listener that would crash the process.
  let failure: unknown;
  const remember = (error: unknown): void => void (failure ??= error);
  stdout.on('error', remember);
  try {
    const records = await reader.exportJsonlTo(stdout);
    if (failure !== undefined) throw failure;
    return records;
  } catch (error) {
    if (isCarapaceError(error)) throw error;
    throw new CarapaceError('CLI_OUTPUT_FAILED', `cannot write the export to standard output: ${String(error)}`, { cause: error });
  } finally {
    stdout.off('error', remember);
  }
}

/** `carapace audit verify`: walks the hash chain; AUDIT_CHAIN_BROKEN names the first broken link. */
export async function auditVerify(ctx: CommandContext, anchor?: ChainAnchor): Promise<CommandResult> {
  const file = homeLayout(ctx.home).auditFile;
  using reader = openAuditReader(file);
  const verdict = reader.verify(anchor);
  if (!verdict.ok) throw chainBrokenError(verdict, file);
  // Printed as SEQ:HASH so it can be kept elsewhere and passed back as --anchor.
  const head = verdict.head === undefined ? '' : `; head ${verdict.head.seq}:${verdict.head.hash}`;
  return {
    text: `PASS: ${verdict.count} records, hash chain intact${anchor === undefined ? '' : ', anchor matched'}${head}`,
    data: { ok: true, file, count: verdict.count, head: verdict.head ?? null, anchored: anchor !== undefined },
  };
}

/** commander argument parser for `--anchor SEQ:HASH`, the head an earlier `verify` printed. */
export function parseChainAnchor(raw: string): ChainAnchor {
  const match = /^([1-9][0-9]{0,14}):([0-9a-f]{64})$/.exec(raw);
  if (match?.[1] === undefined || match[2] === undefined) {
    throw new InvalidArgumentError('expected SEQ:HASH, a record number and its 64-character lowercase hex hash');
  }
  return { seq: Number(match[1]), hash: match[2] };
}

/**
 * The reader, or undefined when there is no log yet. Following, a file with no schema yet counts
 * as not there: the core creates the file and then migrates it, and a poll can land in between.
 */
function openIfPresent(file: string, options: { waitForSchema?: boolean } = {}): AuditReader | undefined {
  try {
    return openAuditReader(file);
  } catch (error) {
    if (isCarapaceError(error) && error.code === 'AUDIT_NOT_FOUND') return undefined;
    if (options.waitForSchema === true && isCarapaceError(error) && error.code === 'AUDIT_UNAVAILABLE' && error.details['version'] === 0) {
      return undefined;
    }
    throw error;
  }
}
