import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createAuditGroupCommit } from './audit-group-commit.js';
import { openAuditLog } from './audit-log.js';

const tempDb = async (): Promise<string> => join(await mkdtemp(join(tmpdir(), 'carapace-group-')), 'audit.db');

describe('createAuditGroupCommit', () => {
  it('commits the appends of one event-loop turn in one transaction', async () => {
    using log = openAuditLog(await tempDb());
    const appendMany = vi.spyOn(log, 'appendMany');
    const group = createAuditGroupCommit(log);
    const entries = await Promise.all(
      Array.from({ length: 20 }, (_, index) => group.append({ kind: 'intent', decision: 'allowed', callId: `call-${index}` })),
    );
    expect(appendMany).toHaveBeenCalledTimes(1);
    expect(entries.map((entry) => entry.callId)).toEqual(Array.from({ length: 20 }, (_, index) => `call-${index}`));
    expect(entries.map((entry) => entry.seq)).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
    expect(log.verify()).toMatchObject({ ok: true, count: 20 });
  });

  it('fails only the malformed record of a batch', async () => {
    using log = openAuditLog(await tempDb());
    const group = createAuditGroupCommit(log);
    const results = await Promise.allSettled([
      group.append({ kind: 'intent', decision: 'allowed', callId: 'a' }),
      group.append({ kind: 'intent', decision: 'allowed' }),
      group.append({ kind: 'intent', decision: 'allowed', callId: 'c' }),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(results[1]).toMatchObject({ reason: { code: 'AUDIT_WRITE_FAILED' } });
    expect(log.verify()).toMatchObject({ ok: true, count: 2 });
  });

  it('does not resolve before the batch is committed', async () => {
    using log = openAuditLog(await tempDb());
    let scheduled: (() => void) | undefined;
    const group = createAuditGroupCommit(log, (flush) => (scheduled = flush));
    let resolved = false;
    const pending = group.append({ kind: 'intent', decision: 'allowed', callId: 'a' }).then(() => (resolved = true));
    await Promise.resolve();
    expect(resolved).toBe(false);
    expect(log.head()).toBeUndefined();
    scheduled?.();
    await pending;
    expect(log.head()?.seq).toBe(1);
  });
});
