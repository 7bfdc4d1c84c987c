import { readFile, open, unlink } from 'node:fs/promises';
import { CarapaceError } from '../errors.js';

/** What the pid file records about the core that holds it. */
export interface CoreRecord {
  readonly pid: number;
  /** The kernel's start time of that process, so a recycled pid is not mistaken for our core. */
  readonly processStart: string | undefined;
  readonly startedAt: string;
  readonly runtime?: string;
}

export interface PidLock extends AsyncDisposable {
  readonly record: CoreRecord;
  release(): Promise<void>;
}

export interface ProcessProbe {
  /** The process's start time as the OS reports it, or undefined when unknown. */
  startTimeOf(pid: number): Promise<string | undefined>;
  isAlive(pid: number): boolean;
}

/**
 * Takes the one-core-per-home lock: creates the pid file exclusively. A file left by a core that
 * died (SIGKILL, power loss) is recognised as stale and replaced; a live core's file is not.
 */
export async function acquirePidLock(
  path: string,
  fields: Omit<CoreRecord, 'processStart'>,
  probe: ProcessProbe = linuxProcessProbe,
): Promise<PidLock> {
  const record: CoreRecord = { ...fields, processStart: await probe.startTimeOf(fields.pid) };
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(record)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      return lockFor(path, record);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new CarapaceError('HOME_UNAVAILABLE', `cannot write the pid file ${path}`, { cause: error });
      }
    }
    const holder = await readLiveCore(path, probe);
    if (holder) {
      throw new CarapaceError('CORE_ALREADY_RUNNING', `a Carapace core is already running (pid ${holder.pid})`, {
        details: { pid: holder.pid, pidFile: path },
      });
    }
    await unlink(path).catch(ignoreMissing);
  }
  throw new CarapaceError('CORE_ALREADY_RUNNING', `another core is starting at the same time (${path})`);
}

/** The record of the core holding the lock, or undefined when no live core holds it. */
export async function readLiveCore(path: string, probe: ProcessProbe = linuxProcessProbe): Promise<CoreRecord | undefined> {
  let record: CoreRecord;
  try {
    record = JSON.parse(await readFile(path, 'utf8')) as CoreRecord;
  } catch {
    // A missing or half-written pid file means no core finished starting: nothing holds the lock.
    return undefined;
  }
  if (!Number.isInteger(record.pid) || record.pid <= 0 || !probe.isAlive(record.pid)) return undefined;
  if (record.processStart !== undefined && record.processStart !== (await probe.startTimeOf(record.pid))) return undefined;
  return record;
}

function lockFor(path: string, record: CoreRecord): PidLock {
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    await unlink(path).catch(ignoreMissing);
  };
  return { record, release, [Symbol.asyncDispose]: release };
}

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
}

export const linuxProcessProbe: ProcessProbe = {
  async startTimeOf(pid) {
    try {
      return startTimeFromProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return undefined;
    }
  },
  isAlive(pid) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  },
};

/**
 * Field 22 (starttime) of /proc/PID/stat. Fields are counted from the last ')' because the command
 * name before it is chosen by the process and may hold spaces and parentheses.
 */
export function startTimeFromProcStat(stat: string): string | undefined {
  const field = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  return field !== undefined && /^\d+$/.test(field) ? field : undefined;
}
