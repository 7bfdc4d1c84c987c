import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { homeLabels } from '../../src/core/container-labels.js';
import { DockerApiRuntime } from '../../src/runtime/docker-api/docker-api-runtime.js';
import type { AuditEntry } from '../../src/store/audit-record.js';
import { openAuditReader } from '../../src/store/audit-reader.js';
import { connectCallerClient, type CallerClient } from '../../src/transport/caller-client.js';
import { DEFAULT_WIRE_LIMITS } from '../../src/wire/message.js';
import { runCliProcess, spawnCli, type CliProcess } from '../support/cli-process.js';
import { podmanSocket } from '../support/podman.js';
import { freshHome } from '../support/run-cli-in-process.js';

const WORKERS = 200;
const KILL_AFTER_SUCCESSES = 1500;

/**
 * `carapace start` (the built CLI) SIGKILLed while a client bursts echo calls: the audit log it
 * leaves is intact, records no outcome without its intent, lists the calls that were in flight,
 * and holds an intent for every call the client saw succeed. The next start removes the killed
 * core's containers and serves again.
 */
describe('the core SIGKILLed in the middle of a burst', () => {
  let runtime: DockerApiRuntime;
  let home: string;
  const cores: CliProcess[] = [];
  const succeeded = new Set<string>();
  let answered = 0;
  let killedContainers: string[] = [];

  const startCore = async (): Promise<CliProcess> => {
    const core = spawnCli(['--home', home, 'start']);
    cores.push(core);
    await core.waitForStderr('core started', 180_000);
    return core;
  };
  const client = (): CallerClient => connectCallerClient({ socketPath: join(home, 'run', 'caller.sock'), limits: DEFAULT_WIRE_LIMITS });

  beforeAll(async () => {
    runtime = await DockerApiRuntime.connect(podmanSocket());
    home = await freshHome();
    await mkdir(home, { mode: 0o700 });
    // Limits high enough that the burst is dispatched, not rate-limited away.
    const calls = '[calls]\ncaller_burst = 1000000\ncaller_rate = 1000000\ntool_burst = 1000000\ntool_rate = 1000000\n';
    await writeFile(join(home, 'config.toml'), `[runtime]\nsocket = "${podmanSocket()}"\n${calls}`, { mode: 0o600 });

    const core = await startCore();
    const bursting = client();
    let killed = false;
    const worker = async (id: number): Promise<void> => {
      for (let n = 0; !killed; n++) {
        const reply = await bursting.call({ topic: 'echo.echo', arguments: { text: `${String(id)}-${String(n)}` } }, 30_000).catch(() => undefined);
        if (reply === undefined) return;
        answered += 1;
        if (reply.ok && reply.correlation !== null) succeeded.add(reply.correlation);
      }
    };
    const workers = Array.from({ length: WORKERS }, (_, id) => worker(id));
    while (succeeded.size < KILL_AFTER_SUCCESSES) await new Promise((resolve) => setTimeout(resolve, 5));
    killedContainers = (await runtime.list(homeLabels(home))).map((container) => container.id).sort();
    core.child.kill('SIGKILL');
    killed = true;
    expect((await core.exited).signal).toBe('SIGKILL');
    // Calls still waiting for a reply get none: closing the client fails them.
    bursting.close();
    await Promise.all(workers);
  }, 300_000);

  afterAll(async () => {
    for (const core of cores) if (core.child.exitCode === null && core.child.signalCode === null) core.child.kill('SIGKILL');
    for (const container of await runtime.list(homeLabels(home))) await runtime.remove(container.id);
    await runtime[Symbol.asyncDispose]();
  }, 60_000);

  const records = (): AuditEntry[] => {
    using audit = openAuditReader(join(home, 'audit.db'));
    return audit.tail(10_000_000);
  };

  it('leaves an audit log whose chain verifies', async () => {
    const verified = await runCliProcess(['--home', home, 'audit', 'verify']);
    expect(verified.code).toBe(0);
    using audit = openAuditReader(join(home, 'audit.db'));
    expect(audit.verify().ok).toBe(true);
  });

  it('records no outcome without its intent, and lists exactly the intents left without an outcome', () => {
    const all = records();
    const intents = new Map(all.filter((record) => record.kind === 'intent').map((record) => [record.callId, record]));
    const outcomes = all.filter((record) => record.kind === 'outcome');
    console.info(`killed after ${String(succeeded.size)} successes (${String(answered)} replies): ${String(intents.size)} intents, ${String(outcomes.length)} outcomes`);
    expect(outcomes.length).toBeGreaterThanOrEqual(KILL_AFTER_SUCCESSES);
    for (const outcome of outcomes) expect(intents.has(outcome.callId)).toBe(true);
    const finished = new Set(outcomes.map((outcome) => outcome.callId));
    using audit = openAuditReader(join(home, 'audit.db'));
    const unfinished = audit.intentsWithoutOutcome().map((record) => record.callId);
    expect(unfinished.sort()).toEqual([...intents.keys()].filter((callId) => !finished.has(callId)).sort());
  });

  it('holds an intent and a success for every call the client saw succeed', () => {
    const all = records();
    const byCorrelation = new Map<string, string>();
    for (const record of all) {
      const correlation = record.kind === 'intent' ? /correlation (\S+)$/.exec(record.detail ?? '')?.[1] : undefined;
      if (correlation !== undefined && record.callId !== null) byCorrelation.set(correlation, record.callId);
    }
    const succeededCalls = new Set(all.filter((record) => record.kind === 'outcome' && record.decision === 'succeeded').map((record) => record.callId));
    expect(succeeded.size).toBeGreaterThanOrEqual(KILL_AFTER_SUCCESSES);
    for (const correlation of succeeded) {
      const callId = byCorrelation.get(correlation);
      expect([correlation, callId !== undefined && succeededCalls.has(callId)]).toEqual([correlation, true]);
    }
  });

  it('removes the killed core\'s containers at the next start, says how many calls it left unfinished, and serves again', async () => {
    expect(killedContainers).toHaveLength(2);
    expect((await runtime.list(homeLabels(home))).map((container) => container.id).sort()).toEqual(killedContainers);
    const unfinished = (() => {
      using audit = openAuditReader(join(home, 'audit.db'));
      return audit.intentsWithoutOutcome().length;
    })();

    const second = await startCore();
    expect(second.stderr()).toContain('2 orphan containers removed');
    const serving = (await runtime.list(homeLabels(home))).map((container) => container.id);
    expect(serving).toHaveLength(2);
    for (const id of killedContainers) expect(serving).not.toContain(id);

    const caller = client();
    try {
      expect(await caller.call({ topic: 'echo.echo', arguments: { text: 'after the kill' } }, 30_000)).toMatchObject({ ok: true, result: { text: 'after the kill' } });
    } finally {
      caller.close();
    }
    const started = records().filter((record) => record.kind === 'lifecycle' && record.topic === 'core.started');
    expect(started).toHaveLength(2);
    expect(started[1]?.detail).toContain(`${String(unfinished)} calls without outcome from earlier runs`);

    expect((await runCliProcess(['--home', home, 'stop'])).code).toBe(0);
    expect(await second.exited).toEqual({ code: 0, signal: null });
    expect(await runtime.list(homeLabels(home))).toEqual([]);
    using audit = openAuditReader(join(home, 'audit.db'));
    expect(audit.verify().ok).toBe(true);
  }, 240_000);
});
