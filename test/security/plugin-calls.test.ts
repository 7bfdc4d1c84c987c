import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAuditReader } from '../../src/store/audit-reader.js';
import type { WireReply } from '../../src/wire/message.js';
import type { TestCore } from '../support/core-harness.js';
import { hostilePluginManifest, startHostileCore, type HostileCore } from '../support/hostile-plugin.js';

const FLOOD = 10_000;

interface FloodReport {
  readonly sent: number;
  readonly answered: number;
  readonly duplicates: number;
  readonly codes: Record<string, number>;
  readonly sentMs: number;
  readonly answeredMs: number;
}

/**
 * Calls a plugin container makes on its own socket: they pass the same pipeline as any caller's,
 * as group `plugin` with the socket's owner as source, whatever the frame claims, and a flood of
 * them is answered in full without starving anyone.
 */
describe('calls from a plugin container', () => {
  let hostile: HostileCore;
  let harness: TestCore;

  beforeAll(async () => {
    hostile = await startHostileCore((image) => ({ hostile: hostilePluginManifest(image) }));
    harness = hostile.harness;
  }, 240_000);

  afterAll(() => hostile?.stop(), 60_000);

  const call = async (topic: string, args: Record<string, unknown> = {}): Promise<unknown> => ok(await harness.client().call({ topic, arguments: args as never }, 30_000));

  it('refuses forged identity fields, and a well-formed call from group plugin, auditing both as the plugin', async () => {
    const { forged, wellFormed } = (await call('hostile.forge')) as { forged: WireReply; wellFormed: WireReply };
    expect(forged).toMatchObject({ correlation: 'forge-1', ok: false, error: { code: 'WIRE_UNKNOWN_FIELD' } });
    expect(wellFormed).toMatchObject({ correlation: 'forge-2', ok: false, error: { code: 'UNAUTHORIZED' } });

    using audit = openAuditReader(harness.layout.auditFile);
    const records = audit.tail(1000);
    const forgedRecord = records.find((record) => record.kind === 'refusal' && record.code === 'WIRE_UNKNOWN_FIELD');
    expect(forgedRecord).toMatchObject({ caller: 'hostile', group: 'plugin', stage: 'construct', decision: 'refused' });
    expect(forgedRecord?.detail).toContain('"source"');
    const unauthorized = records.find((record) => record.kind === 'refusal' && record.code === 'UNAUTHORIZED');
    expect(unauthorized).toMatchObject({ caller: 'hostile', group: 'plugin', stage: 'authorize', topic: 'echo.echo', source: 'echo' });
    // Nothing the plugin sent was recorded under another identity, and nothing reached echo.
    expect(records.filter((record) => record.kind !== 'lifecycle' && record.caller !== 'operator').every((record) => record.caller === 'hostile')).toBe(true);
    expect(records.some((record) => record.kind === 'intent' && record.caller === 'hostile')).toBe(false);
  });

  it(`answers every one of ${String(FLOOD)} calls flooded from the container with a typed error, and keeps serving`, async () => {
    expect(await call('hostile.flood', { count: FLOOD })).toEqual({ started: true });
    let report: FloodReport | null = null;
    const deadline = Date.now() + 150_000;
    while (report === null && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      report = (await call('hostile.flood_report')) as FloodReport | null;
    }
    if (report === null) throw new Error('the flood did not finish');
    console.info(`flood from a container: ${String(report.sent)} sent in ${String(report.sentMs)} ms, all answered in ${String(report.answeredMs)} ms`);
    expect(report).toMatchObject({ sent: FLOOD, answered: FLOOD, duplicates: 0 });
    // echo.echo and hostile.ping: no grant for group plugin; forged fields; an unknown topic.
    expect(report.codes).toEqual({ UNAUTHORIZED: FLOOD / 2, WIRE_UNKNOWN_FIELD: FLOOD / 4, TOPIC_UNKNOWN: FLOOD / 4 });
    expect(harness.core.stats().undelivered).toBe(0);

    // The operator was not rate-limited by the plugin's flood: its calls count against no one else.
    expect(await call('echo.echo', { text: 'after the flood' })).toEqual({ text: 'after the flood' });
    expect(await call('hostile.ping')).toEqual({ pong: true });
  }, 200_000);

  it('refuses an oversized frame from the container with a typed reply and keeps the connection', async () => {
    const result = (await call('hostile.oversize')) as { bytes: number; refused: WireReply; after: WireReply };
    expect(result.bytes).toBeGreaterThan(1024 * 1024);
    expect(result.refused).toMatchObject({ correlation: null, ok: false, error: { code: 'WIRE_FRAME_TOO_LARGE' } });
    expect(result.after).toMatchObject({ correlation: 'after-big', ok: false, error: { code: 'UNAUTHORIZED' } });
    expect(await call('hostile.ping')).toEqual({ pong: true });
  });

  it('keeps an intact audit chain in which every refusal names the plugin as caller', () => {
    using audit = openAuditReader(harness.layout.auditFile);
    expect(audit.verify().ok).toBe(true);
    const records = audit.tail(100_000);
    const fromPlugin = records.filter((record) => record.group === 'plugin');
    expect(fromPlugin.length).toBeGreaterThanOrEqual(FLOOD + 3);
    expect(new Set(fromPlugin.map((record) => record.caller))).toEqual(new Set(['hostile']));
    expect(records.some((record) => record.kind === 'refusal' && record.code === 'WIRE_FRAME_TOO_LARGE' && record.caller === 'hostile')).toBe(true);
  });
});

function ok(reply: WireReply): unknown {
  if (!reply.ok) throw new Error(`expected a result, got ${reply.error.code}: ${reply.error.message}`);
  return reply.result;
}
