import { Subscriber } from 'zeromq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoreEvent } from '../../src/core/core-event.js';
import { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import { openAuditReader } from '../../src/store/audit-reader.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';
import { podmanSocket } from '../support/podman.js';

/** Plugins come and go: the bus announces it, routing follows it, the audit log records it. */
describe('plugin lifecycle on the event bus', () => {
  const events: CoreEvent[] = [];
  const subscriber = new Subscriber({ linger: 0 });
  let harness: TestCore;
  let reading: Promise<void>;

  beforeAll(async () => {
    harness = await startTestCore({
      // ZeroMQ lets a SUB connect before the PUB binds, so this subscriber sees the first events.
      beforeStart: (layout) => {
        subscriber.connect(`ipc://${layout.eventSocket}`);
        subscriber.subscribe('plugin.');
        reading = (async () => {
          for await (const [, body] of subscriber) events.push(JSON.parse(body?.toString('utf8') ?? 'null') as CoreEvent);
        })().catch(() => undefined);
      },
    });
  }, 180_000);

  afterAll(async () => {
    subscriber.close();
    await reading;
    await harness?.stop();
  }, 60_000);

  const waitFor = async (predicate: () => boolean): Promise<void> => {
    for (let waited = 0; !predicate(); waited += 50) {
      if (waited > 20_000) throw new Error(`timed out; events: ${JSON.stringify(events)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  it('announces each plugin as ready, with its container and tools', async () => {
    await waitFor(() => events.filter((event) => event.type === 'plugin.ready').length === 2);
    const ready = events.filter((event): event is Extract<CoreEvent, { type: 'plugin.ready' }> => event.type === 'plugin.ready');
    expect(ready.map((event) => event.plugin).sort()).toEqual(['echo', 'memory']);
    const echo = ready.find((event) => event.plugin === 'echo');
    expect(echo?.tools).toContain('echo.echo');
    expect(echo?.container).toBe(harness.core.plugins().find((plugin) => plugin.name === 'echo')?.container?.id);
  });

  it('announces a crashed plugin as stopped, routes nothing to it, and keeps serving the others', async () => {
    const echoContainer = harness.core.plugins().find((plugin) => plugin.name === 'echo')?.container?.id ?? '';
    await using runtime = await DockerApiRuntime.connect(podmanSocket());
    await runtime.remove(echoContainer);

    await waitFor(() => events.some((event) => event.type === 'plugin.stopped' && event.plugin === 'echo'));
    expect(harness.core.plugins().find((plugin) => plugin.name === 'echo')?.state).toBe('stopped');
    const client = harness.client();
    const refused = await client.call({ topic: 'echo.echo', arguments: { text: 'anyone there?' } }, 10_000);
    expect(refused.ok ? 'OK' : refused.error.code).toBe('ROUTE_UNAVAILABLE');
    const served = await client.call({ topic: 'memory.search', arguments: { query: 'anything' } }, 10_000);
    expect(served.ok).toBe(true);

    using audit = openAuditReader(harness.layout.auditFile);
    const records = audit.tail(1000);
    expect(records.some((record) => record.kind === 'lifecycle' && record.topic === 'plugin.stopped' && record.source === 'echo')).toBe(true);
    expect(records.some((record) => record.kind === 'refusal' && record.code === 'ROUTE_UNAVAILABLE' && record.topic === 'echo.echo')).toBe(true);
  });
});
