import { appendFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, logFilePath } from '../../logging/logger.js';
import type { CommandContext } from '../command-result.js';
import { logs } from './logs.js';

let ctx: CommandContext;
beforeEach(async () => {
  ctx = { home: await mkdtemp(join(tmpdir(), 'carapace-cli-logs-')), env: {}, json: false };
  await mkdir(join(ctx.home, 'logs'), { mode: 0o700 });
});
afterEach(async () => {
  await rm(ctx.home, { recursive: true, force: true });
});

describe('logs', () => {
  it('formats the last N lines the logger wrote, and returns the raw entries as data', async () => {
    {
      await using log = createLogger({ home: ctx.home, level: 'info' });
      for (const step of ['one', 'two', 'three']) log.info({ step }, 'progress');
    }
    await appendFile(logFilePath(ctx.home), '{"torn');
    const result = await logs(ctx, { lines: 3 });
    const shown = result.text.split('\n');
    expect(shown).toHaveLength(3);
    expect(shown[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {3}progress step=two$/);
    expect(shown[2]).toBe('{"torn');
    expect(result.data).toMatchObject({ entries: [{ step: 'two' }, { step: 'three' }, { raw: '{"torn' }] });
  });

  it('says there is no log yet instead of failing', async () => {
    await rm(join(ctx.home, 'logs'), { recursive: true });
    const result = await logs(ctx, { lines: 10 });
    expect(result.text).toMatch(/no log yet/);
    expect(result.data).toMatchObject({ entries: [] });
  });
});
