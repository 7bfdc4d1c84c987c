import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { homeLabels } from '../../src/core/container-labels.js';
import { readCoreState } from '../../src/daemon/core-state.js';
import { pinImage } from '../../src/daemon/local-pins.js';
import type { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { MAX_QUEUED_CALLS } from '../../src/daemon/plugin-container.js';
import { openAuditReader } from '../../src/store/audit-reader.js';
import type { WireReply } from '../../src/wire/message.js';
import type { TestCore } from '../support/core-harness.js';
import { hostilePluginManifest, startHostileCore, type HostileCore } from '../support/hostile-plugin.js';

const CALL_TIMEOUT_MS = 3000;
const MISSING_IMAGE = 'localhost/carapace/test-image-never-loaded';

/**
 * Plugins that answer badly, not at all, die with calls in flight, or never load: a caller gets a
 * typed error and never a success, and the other plugins keep serving.
 */
describe('misbehaving plugins', () => {
  let hostile: HostileCore;
  let runtime: DockerApiRuntime;
  let harness: TestCore;

  beforeAll(async () => {
    const plugins = (image: string) => {
      const manifest = (name: string) => hostilePluginManifest(image, name);
      return {
        hostile: manifest('hostile'),
        crasher: manifest('crasher'),
        jammer: manifest('jammer'),
        badfield: { ...manifest('badfield'), privileged: true },
        openschema: { ...manifest('openschema'), tools: [{ name: 'open', description: 'Takes anything.', risk: 'low', arguments: { type: 'object' } }] },
        misnamed: manifest('othername'),
        noimage: hostilePluginManifest(`${MISSING_IMAGE}:1.0.0`, 'noimage'),
      };
    };
    hostile = await startHostileCore(plugins, {
      // Pinned, but to an image the runtime does not hold: the gate gets as far as the runtime.
      beforeStart: async (layout) => void (await pinImage(layout, { plugin: 'noimage', image: MISSING_IMAGE, digest: `sha256:${'0'.repeat(64)}`, replace: true })),
      config: `[calls]\ntimeout_ms = ${String(CALL_TIMEOUT_MS)}\ncaller_burst = 100000\ncaller_rate = 100000\ntool_burst = 100000\ntool_rate = 100000\n`,
    });
    ({ harness, runtime } = hostile);
  }, 240_000);

  afterAll(() => hostile?.stop(), 60_000);

  const code = (reply: WireReply): string => (reply.ok ? 'OK' : reply.error.code);
  // How long the test waits for each of 8,000 replies: generous, since a loaded CI machine is slow;
  // a reply that never comes still fails the test.
  const BURST_REPLY_WAIT_MS = 90_000;
  const call = (topic: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<WireReply> =>
    harness.client().call({ topic, arguments: args as never }, timeoutMs);
  const tally = (replies: readonly WireReply[]): Record<string, number> => {
    const codes: Record<string, number> = {};
    for (const reply of replies) codes[code(reply)] = (codes[code(reply)] ?? 0) + 1;
    return codes;
  };

  it('rejects bad manifests with MANIFEST_INVALID naming the file, and starts every other plugin', async () => {
    const states = Object.fromEntries(harness.core.plugins().map((plugin) => [plugin.name, plugin.state]));
    expect(states).toEqual({ echo: 'running', memory: 'running', hostile: 'running', crasher: 'running', jammer: 'running', noimage: 'failed' });
    const state = await readCoreState(harness.layout.stateFile);
    const rejected = Object.fromEntries((state?.rejected ?? []).map((entry) => [entry.plugin, entry]));
    expect(Object.keys(rejected).sort()).toEqual(['badfield', 'misnamed', 'openschema']);
    for (const [plugin, entry] of Object.entries(rejected)) {
      expect(entry.code).toBe('MANIFEST_INVALID');
      expect(entry.message).toContain(`${harness.layout.plugins}/${plugin}/manifest.json`);
    }
    expect(rejected['badfield']?.message).toContain('privileged');
    expect(rejected['openschema']?.message).toContain('tools.0.arguments');
    expect(rejected['misnamed']?.message).toContain('othername');
    using audit = openAuditReader(harness.layout.auditFile);
    const lifecycle = audit.tail(1000).filter((record) => record.kind === 'lifecycle' && record.topic === 'plugin.rejected');
    expect(lifecycle.map((record) => [record.source, record.code]).sort()).toEqual([
      ['badfield', 'MANIFEST_INVALID'],
      ['misnamed', 'MANIFEST_INVALID'],
      ['openschema', 'MANIFEST_INVALID'],
    ]);
  });

  it('fails a plugin whose image is missing with IMAGE_NOT_FOUND, and serves the others', async () => {
    expect(harness.core.plugins().find((plugin) => plugin.name === 'noimage')?.problem?.code).toBe('IMAGE_NOT_FOUND');
    expect(code(await call('noimage.ping'))).toBe('ROUTE_UNAVAILABLE');
    expect(await call('echo.echo', { text: 'still here' })).toMatchObject({ ok: true, result: { text: 'still here' } });
  });

  it('turns a malformed reply into PLUGIN_ERROR, and a reply to no call or no reply into CALL_TIMEOUT', async () => {
    const replies = await Promise.all([call('hostile.malformed'), call('hostile.misdirect'), call('hostile.silent')]);
    expect(replies.map(code)).toEqual(['PLUGIN_ERROR', 'CALL_TIMEOUT', 'CALL_TIMEOUT']);
    expect(JSON.stringify(replies)).not.toContain('pwned');
    expect(await call('hostile.ping')).toMatchObject({ ok: true, result: { pong: true } });

    using audit = openAuditReader(harness.layout.auditFile);
    const outcomes = audit.tail(1000).filter((record) => record.kind === 'outcome' && record.caller === 'operator');
    const decisionOf = (topic: string) => outcomes.filter((record) => record.topic === topic).map((record) => record.decision);
    expect(decisionOf('hostile.malformed')).toEqual(['plugin_error']);
    expect(decisionOf('hostile.misdirect')).toEqual(['timeout']);
    expect(decisionOf('hostile.silent')).toEqual(['timeout']);
  });

  it('answers every call in flight to a plugin that dies with ROUTE_UNAVAILABLE, and the core lives on', async () => {
    const client = harness.client();
    const jam = client.call({ topic: 'crasher.jam', arguments: { ms: 1000, exit: true } }, BURST_REPLY_WAIT_MS);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // More than the sockets' queues hold: some call frames are still waiting to be sent when it dies.
    const pings = await Promise.all(Array.from({ length: 8000 }, () => client.call({ topic: 'crasher.ping', arguments: {} }, BURST_REPLY_WAIT_MS)));
    expect(code(await jam)).toBe('ROUTE_UNAVAILABLE');
    const codes = tally(pings);
    expect(codes['OK']).toBeUndefined();
    expect(Object.keys(codes).filter((each) => each !== 'ROUTE_UNAVAILABLE' && each !== 'CALL_TIMEOUT')).toEqual([]);
    expect(harness.core.plugins().find((plugin) => plugin.name === 'crasher')).toMatchObject({ state: 'stopped' });
    expect(await call('echo.echo', { text: 'after the crash' })).toMatchObject({ ok: true, result: { text: 'after the crash' } });
  }, 180_000);

  it('times out calls to a plugin that stopped reading, refuses the backlog past a bound, and does not slow the others', async () => {
    const client = harness.client();
    const jam = client.call({ topic: 'jammer.jam', arguments: { ms: 300_000, exit: false } }, BURST_REPLY_WAIT_MS);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const pings = Promise.all(Array.from({ length: 8000 }, () => client.call({ topic: 'jammer.ping', arguments: {} }, BURST_REPLY_WAIT_MS)));
    const started = performance.now();
    expect(await call('echo.echo', { text: 'meanwhile' })).toMatchObject({ ok: true, result: { text: 'meanwhile' } });
    expect(performance.now() - started).toBeLessThan(CALL_TIMEOUT_MS);
    const codes = tally(await pings);
    // What ZeroMQ's buffers and the core's bounded queue (MAX_QUEUED_CALLS) hold for this plugin
    // times out; the rest is refused at once instead of piling up in the core's memory.
    expect(Object.keys(codes).sort()).toEqual(['CALL_TIMEOUT', 'ROUTE_UNAVAILABLE']);
    expect(codes['ROUTE_UNAVAILABLE']).toBeGreaterThan(0);
    expect(MAX_QUEUED_CALLS).toBeLessThan(8000);
    expect((codes['CALL_TIMEOUT'] ?? 0) + (codes['ROUTE_UNAVAILABLE'] ?? 0)).toBe(8000);
    expect(code(await jam)).toBe('CALL_TIMEOUT');
  }, 180_000);

  it('stops within its grace period with the jammed plugin still not reading, leaving no container', async () => {
    const started = performance.now();
    await harness.stop();
    const stopMs = performance.now() - started;
    console.info(`core stop with a jammed plugin: ${stopMs.toFixed(0)} ms`);
    expect(stopMs).toBeLessThan(15_000);
    expect(await runtime.list(homeLabels(harness.home))).toEqual([]);
  }, 60_000);
});
