import { spawn, type ChildProcess } from 'node:child_process';
import { access, constants, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's `docker-registry` package (distribution 2.8); scripts/up.sh installs it. */
export const DOCKER_REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface LoopbackRegistry extends AsyncDisposable {
  /** `127.0.0.1:PORT`, the registry part of a reference. */
  readonly host: string;
  /** The filesystem storage root, for tests that tamper with what the registry serves. */
  readonly storageDir: string;
  /** Where the registry keeps a blob's bytes (distribution's filesystem layout). */
  blobDataPath(digest: string): string;
  stop(): Promise<void>;
}

/**
 * Starts a real registry on 127.0.0.1 with a random free port and a fresh storage directory,
 * from a generated config.yml, and waits until `/v2/` answers. Stopped by its PID. Fails (never
 * skips) when the binary is missing, naming the package.
 */
export async function startLoopbackRegistry(options: { readonly tls?: { readonly certificateFile: string; readonly keyFile: string } } = {}): Promise<LoopbackRegistry> {
  await access(DOCKER_REGISTRY_BINARY, constants.X_OK).catch(() => {
    throw new Error(`registry tests need ${DOCKER_REGISTRY_BINARY}: apt-get install -y docker-registry (scripts/up.sh does)`);
  });
  const dir = await mkdtemp(join(tmpdir(), 'carapace-registry-'));
  const storageDir = join(dir, 'storage');
  const port = await freePort();
  const host = `127.0.0.1:${String(port)}`;
  // No blob descriptor cache: a test that rewrites a blob on disk must see the registry serve it.
  const config = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storageDir}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${host}`,
    ...(options.tls === undefined ? [] : ['  tls:', `    certificate: ${options.tls.certificateFile}`, `    key: ${options.tls.keyFile}`]),
    '',
  ].join('\n');
  const configFile = join(dir, 'config.yml');
  await writeFile(configFile, config);
  const logFile = join(dir, 'registry.log');
  const child = spawn(DOCKER_REGISTRY_BINARY, ['serve', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log: Buffer[] = [];
  child.stderr?.on('data', (chunk: Buffer) => log.push(chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid ?? -1, 'SIGTERM');
      await Promise.race([exited, delay(5000).then(() => child.exitCode === null && process.kill(child.pid ?? -1, 'SIGKILL'))]);
      await exited;
    }
    await writeFile(logFile, Buffer.concat(log)).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await waitForRegistry(host, child, options.tls !== undefined);
  } catch (error) {
    await stop();
    throw new Error(`${String(error)}\nregistry log:\n${Buffer.concat(log).toString('utf8')}`);
  }
  return {
    host,
    storageDir,
    blobDataPath: (digest) => {
      const hex = digest.slice('sha256:'.length);
      return join(storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Overwrites a stored blob in place, keeping its name: the registry then serves other bytes under the digest. */
export async function tamperWithBlob(registry: LoopbackRegistry, digest: string, change: (bytes: Buffer) => Buffer): Promise<void> {
  const path = registry.blobDataPath(digest);
  await writeFile(path, change(await readFile(path)));
}

async function waitForRegistry(host: string, child: ChildProcess, tls: boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${String(child.exitCode)}`);
    // With TLS, any answer to a plain HTTP request (400) shows the listener is up.
    const ok = await fetch(`http://${host}/v2/`).then(
      (response) => response.status === (tls ? 400 : 200),
      () => false,
    );
    if (ok) return;
    await delay(50);
  }
  throw new Error(`docker-registry did not answer on ${host} within 15 s`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
