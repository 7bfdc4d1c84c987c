import { chmod, lstat, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, logFilePath } from './logger.js';

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'carapace-logger-'));
  await mkdir(join(home, 'logs'), { mode: 0o700 });
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

async function logLines(): Promise<Record<string, unknown>[]> {
  const text = await readFile(logFilePath(home), 'utf8');
  return text
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('createLogger', () => {
  it('appends JSON lines to logs/carapace.log, created 0600 under a permissive umask', async () => {
    const previous = process.umask(0o000);
    try {
      await using log = createLogger({ home, level: 'info' });
      log.info({ plugin: 'weather' }, 'started');
      log.debug('below the level');
    } finally {
      process.umask(previous);
    }
    expect((await lstat(logFilePath(home))).mode & 0o777).toBe(0o600);
    expect(await logLines()).toEqual([expect.objectContaining({ level: 30, msg: 'started', plugin: 'weather' })]);
  });

  it('tightens an existing log file that was loosened, and appends to it', async () => {
    await writeFile(logFilePath(home), '{"level":30,"msg":"earlier"}\n');
    await chmod(logFilePath(home), 0o644);
    await using log = createLogger({ home, level: 'info' });
    log.info('later');
    expect((await lstat(logFilePath(home))).mode & 0o777).toBe(0o600);
    expect((await logLines()).map((line) => line['msg'])).toEqual(['earlier', 'later']);
  });

  it('never writes a credential-like field, at any depth, in bindings or errors', async () => {
    const secrets = ['s3cret-pass', 'tok-123', 'key-456', 'Bearer abc', 'child-token', 'err-token'];
    {
      await using log = createLogger({ home, level: 'trace' });
      log.info({ password: secrets[0], request: { headers: { Authorization: secrets[3] } } }, 'login');
      log.info({ plugin: { config: { nested: [{ refresh_token: secrets[1] }] } }, 'X-Api-Key': secrets[2] }, 'call');
      log.child({ accessToken: secrets[4] }).warn('child');
      log.error({ err: Object.assign(new Error('request failed'), { config: { apiKey: secrets[5] } }) }, 'boom');
    }
    const text = await readFile(logFilePath(home), 'utf8');
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text.match(/\[redacted\]/g)).toHaveLength(secrets.length);
    const boom = (await logLines()).at(-1);
    expect(boom?.['err']).toMatchObject({ type: 'Error', message: 'request failed', config: { apiKey: '[redacted]' } });
  });

  it('passes every serialized line through the sanitize hook', async () => {
    const seen: string[] = [];
    const sanitize = (line: string): string => {
      seen.push(line);
      return line.replaceAll('sk-live-42', '[scrubbed]');
    };
    {
      await using log = createLogger({ home, level: 'info', sanitize });
      log.info('user pasted sk-live-42 into a prompt');
      log.child({ plugin: 'p' }).info({ note: 'sk-live-42' }, 'again');
    }
    expect(seen).toHaveLength(2);
    expect(seen.every((line) => line.endsWith('\n'))).toBe(true);
    const text = await readFile(logFilePath(home), 'utf8');
    expect(text).not.toContain('sk-live-42');
    expect(text.match(/\[scrubbed\]/g)).toHaveLength(2);
  });

  it('drops a line the sanitizer fails on instead of writing it unsanitized', async () => {
    {
      await using log = createLogger({
        home,
        level: 'info',
        sanitize: () => {
          throw new Error('scrubber bug');
        },
      });
      log.info('secret sk-live-42');
    }
    const text = await readFile(logFilePath(home), 'utf8');
    expect(text).not.toContain('sk-live-42');
    expect(await logLines()).toEqual([expect.objectContaining({ level: 50, msg: 'log line dropped: the sanitizer failed on it' })]);
  });

  it('refuses to follow a symlink planted at the log path', async () => {
    const target = join(home, 'elsewhere');
    await writeFile(target, '');
    await symlink(target, logFilePath(home));
    expect(() => createLogger({ home, level: 'info' })).toThrow(expect.objectContaining({ code: 'HOME_UNAVAILABLE' }));
    expect(await readFile(target, 'utf8')).toBe('');
  });

  it('writes to an injected destination instead of the file, and is silent once closed', async () => {
    const lines: string[] = [];
    const log = createLogger({ home, level: 'info', destination: { write: (line) => lines.push(line) } });
    expect(log.file).toBeUndefined();
    log.info('one');
    await log.close();
    log.info('after close');
    expect(lines).toHaveLength(1);
  });
});
