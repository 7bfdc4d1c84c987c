// What the numbers were measured on, printed with them: they mean little without it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';

const firstLine = (command, args) => {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0].trim();
  } catch {
    return 'unknown';
  }
};

export function describeMachine(runtime) {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const os = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown';
  return {
    date: new Date().toISOString().slice(0, 10),
    cpu: model,
    cores: availableParallelism(),
    ramGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    os,
    kernel: release(),
    runtime: `${runtime.kind} ${runtime.version}`,
    ociRuntime: firstLine('runc', ['--version']),
    node: process.version,
    disk: firstLine('findmnt', ['-n', '-o', 'SOURCE,FSTYPE', '--target', '/tmp']),
    // Other work on the machine skews every number here; the report shows what it was.
    loadBefore: loadavg()[0],
  };
}
