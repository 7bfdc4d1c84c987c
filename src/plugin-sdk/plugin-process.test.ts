import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Router } from 'zeromq';
import { encodeCredentialMessage } from '../credentials/stdin-delivery.js';
import { parseWireReply } from '../wire/message.js';

/**
 * The SDK in a real process, as a container runs it: credentials on the process's own stdin, a
 * real SIGTERM, and the kernel's view of the environment (/proc/PID/environ). The SDK and the
 * layers it may import are transpiled into a temp dir; no build step is needed.
 */

const SECRET = 'sk-ant-process-secret';
const srcDir = fileURLToPath(new URL('..', import.meta.url));
const repoModules = join(srcDir, '..', 'node_modules');
let dir = '';

const PLUGIN_SCRIPT = `
import { runPlugin } from './src/plugin-sdk/index.js';
await runPlugin({
  name: 'probe',
  socketPath: process.argv[2],
  tools: {
    token: (_args, context) => context.credentials.API_TOKEN ?? null,
    env: () => Object.values(process.env).some((value) => value === ${JSON.stringify(SECRET)}),
  },
});
process.stdout.write('clean exit\\n');
`;

async function transpileLayer(layer: string): Promise<void> {
  const from = join(srcDir, layer);
  const entries = layer.endsWith('.ts') ? [''] : (await readdir(from)).filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'));
  for (const entry of entries) {
    const source = join(from, entry);
    const target = join(dir, 'src', layer, entry).replace(/\.ts$/, '.js');
    const output = ts.transpileModule(await readFile(source, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, output.outputText);
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'carapace-sdk-proc-'));
  for (const layer of ['plugin-sdk', 'wire', 'errors.ts']) await transpileLayer(layer);
  await symlink(repoModules, join(dir, 'node_modules'));
  await writeFile(join(dir, 'package.json'), '{"type":"module"}');
  await writeFile(join(dir, 'plugin.mjs'), PLUGIN_SCRIPT);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

describe('a plugin process', () => {
  it('takes credentials from stdin into memory only, serves calls, and exits cleanly on SIGTERM', async () => {
    const socketPath = join(dir, 'plugin.sock');
    const router = new Router({ linger: 0 });
    await router.bind(`ipc://${socketPath}`);
    const child = spawn(process.execPath, [join(dir, 'plugin.mjs'), socketPath], { cwd: dir, stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      let stdout = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
      });
      child.stdin?.end(encodeCredentialMessage({ API_TOKEN: SECRET }));

      const [peer, ready] = await router.receive();
      expect(JSON.parse(String(ready))).toEqual({ type: 'ready' });
      const call = async (tool: string): Promise<unknown> => {
        await router.send([peer ?? Buffer.alloc(0), JSON.stringify({ correlation: `c-${tool}`, tool, arguments: {} })]);
        const [, frame] = await router.receive();
        return parseWireReply(frame ?? Buffer.alloc(0), { maxFrameBytes: 4096 });
      };
      expect(await call('token')).toEqual({ correlation: 'c-token', ok: true, result: SECRET });
      expect(await call('env')).toEqual({ correlation: 'c-env', ok: true, result: false });
      const environ = await readFile(`/proc/${String(child.pid)}/environ`);
      expect(environ.includes(SECRET)).toBe(false);

      child.kill('SIGTERM');
      expect(await exitOf(child)).toBe(0);
      expect(stdout).toBe('clean exit\n');
    } finally {
      child.kill('SIGKILL');
      router.close();
    }
  });
});
