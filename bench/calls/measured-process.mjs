// A child Node process the bench starts, measures and stops, by its PID only. The child runs
// process-probe.mjs, so the bench can ask it for its memory and for a CPU profile of one phase.
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

const STOP_TIMEOUT_MS = 30_000;

/**
 * Starts `node ...args` with an IPC channel. `ready` decides when it is up: a stderr line matching
 * a pattern, or an IPC message `{ event }`. Rejects (and kills the child by PID) if it exits or
 * takes longer than `timeoutMs` first.
 */
export async function startMeasuredProcess(args, { ready, timeoutMs = 120_000, env = process.env, label }) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env });
  const measured = new MeasuredProcess(child, label);
  try {
    await measured.waitFor(ready, timeoutMs);
    return measured;
  } catch (error) {
    await measured.stop();
    throw error;
  }
}

class MeasuredProcess {
  #child;
  #output = '';
  #stdout = '';
  #events = [];
  #waiters = new Set();
  #replies = new Map();
  #nextId = 0;
  #exited;
  #hasExited = false;

  constructor(child, label) {
    this.#child = child;
    this.label = label;
    this.pid = child.pid;
    const collect = (chunk) => {
      this.#output += chunk.toString('utf8');
      this.#wake();
    };
    child.stdout.on('data', (chunk) => {
      this.#stdout += chunk.toString('utf8');
      collect(chunk);
    });
    child.stderr.on('data', collect);
    child.on('message', (message) => {
      if (message?.id !== undefined && this.#replies.has(message.id)) {
        const reply = this.#replies.get(message.id);
        this.#replies.delete(message.id);
        if (message.ok) reply.resolve(message.value);
        else reply.reject(new Error(`${label}: ${message.error}`));
        return;
      }
      if (typeof message?.event === 'string') this.#events.push(message.event);
      this.#wake();
    });
    this.#exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    void this.#exited.then(() => {
      this.#hasExited = true;
      for (const reply of this.#replies.values()) reply.reject(new Error(`${label} exited`));
      this.#replies.clear();
      this.#wake();
    });
  }

  /** Everything the child wrote to stdout and stderr so far. */
  get output() {
    return this.#output;
  }

  /** What the child wrote to stdout alone. */
  get stdout() {
    return this.#stdout;
  }

  /** Waits for an IPC `{ event }` (a string) or a line of output (a RegExp). */
  waitFor(ready, timeoutMs) {
    const seen = () => (typeof ready === 'string' ? this.#events.includes(ready) : ready.test(this.#output));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`${this.label} not ready within ${timeoutMs} ms:\n${this.#output}`)), timeoutMs);
      const check = () => {
        if (seen()) finish();
        else if (this.#hasExited) finish(new Error(`${this.label} exited before it was ready:\n${this.#output}`));
      };
      const finish = (error) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (error === undefined) resolve();
        else reject(error);
      };
      this.#waiters.add(check);
      setImmediate(check);
    });
  }

  /** Asks the child's probe: `memory`, `profile-start`, `profile-stop` (with `path`). */
  request(type, extra = {}) {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#replies.set(id, { resolve, reject });
      this.#child.send({ id, type, ...extra }, (error) => {
        if (error) {
          this.#replies.delete(id);
          reject(error);
        }
      });
    });
  }

  /** CPU time (user + system, ms) and resident memory of the process, from /proc. */
  async usage() {
    return procUsage(this.pid);
  }

  /** SIGTERM, then SIGKILL if it has not exited in time; resolves with how it exited. */
  async stop() {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill('SIGTERM');
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      const exit = await this.#exited;
      clearTimeout(timer);
      return exit;
    }
    return this.#exited;
  }

  #wake() {
    for (const check of [...this.#waiters]) check();
  }
}

const CLOCK_TICKS_PER_SECOND = 100;

/** utime and stime (ms) from a /proc stat line; the command name may contain spaces, so split after it. */
function cpuOf(stat) {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const toMs = (ticks) => (Number(ticks) * 1000) / CLOCK_TICKS_PER_SECOND;
  return { userMs: toMs(fields[11]), systemMs: toMs(fields[12]) };
}

/**
 * CPU ms (user + system), VmRSS and VmHWM (peak) bytes of any process, read from /proc, and the
 * CPU of each of its threads by name (node's main thread, libuv workers, libzmq's I/O threads).
 */
export async function procUsage(pid) {
  const [stat, status, tasks] = await Promise.all([
    readFile(`/proc/${pid}/stat`, 'utf8'),
    readFile(`/proc/${pid}/status`, 'utf8'),
    readdir(`/proc/${pid}/task`).catch(() => []),
  ]);
  const threads = {};
  for (const task of tasks) {
    const line = await readFile(`/proc/${pid}/task/${task}/stat`, 'utf8').catch(() => undefined);
    if (line === undefined) continue;
    const name = task === String(pid) ? 'main' : line.slice(line.indexOf('(') + 1, line.lastIndexOf(')')).replace(/\d+$/, 'N');
    const { userMs, systemMs } = cpuOf(line);
    const seen = threads[name] ?? { userMs: 0, systemMs: 0 };
    threads[name] = { userMs: seen.userMs + userMs, systemMs: seen.systemMs + systemMs };
  }
  const { userMs, systemMs } = cpuOf(stat);
  const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { cpuMs: userMs + systemMs, userMs, systemMs, threads, rss: kib('VmRSS'), peakRss: kib('VmHWM') };
}
