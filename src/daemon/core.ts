import type { HomeLayout } from '../config/carapace-home.js';
import { systemClock, type Clock } from '../core/clock.js';
import { homeLabels } from '../core/container-labels.js';
import type { CoreEvent } from '../core/core-event.js';
import { toAccessPolicy, type AccessPolicy } from '../core/pipeline/access-policy.js';
import type { Confirmer } from '../core/pipeline/confirm.js';
import { newCallId, type CallerSession } from '../core/pipeline/envelope.js';
import { CallRateLimiter } from '../core/pipeline/rate-limit.js';
import type { PipelineContext } from '../core/pipeline/run-pipeline.js';
import { toToolRegistry } from '../core/pipeline/tool-registry.js';
import type { Sanitizer } from '../core/sanitizer.js';
import { openCredentialStore } from '../credentials/credential-store.js';
import type { Logger } from '../logging/logger.js';
import type { ContainerRuntime, RuntimeDescription } from '../runtime/container-runtime.js';
import { removeContainers } from '../runtime/remove-containers.js';
import { openAuditLog } from '../store/audit-log.js';
import { openCallerChannel, type CallerPeer } from '../transport/caller-channel.js';
import { openEventPublisher } from '../transport/event-publisher.js';
import { toResourceLimits, type CarapaceConfig } from '../wire/config.js';
import { DEFAULT_WIRE_LIMITS } from '../wire/message.js';
import { createAuditRecorder } from './audit-recorder.js';
import { createCallService, type CallStats } from './call-service.js';
import { AGENT, CallerSessions, OPERATOR, PLUGIN_GROUP } from './caller-sessions.js';
import { ConfirmationDesk } from './confirmation-desk.js';
import { controlTools, withControlTools } from './control-tools.js';
import { writeCoreState, type CoreState, type PluginReport } from './core-state.js';
import { acquirePidLock, type CoreRecord } from './pid-lock.js';
import { loadPluginCatalog, type CatalogedPlugin, type PluginSource } from './plugin-catalog.js';
import { loadPluginSkills } from './plugin-skills.js';
import { RunningCatalog } from './running-catalog.js';
import type { ImageGateContext } from './plugin-images.js';
import { PluginSupervisor } from './plugin-supervisor.js';
import { Teardown } from './teardown.js';

export interface CoreDependencies {
  readonly layout: HomeLayout;
  readonly config: CarapaceConfig;
  /** Finds (and if needed starts) a container runtime; detection lives outside the core. */
  readonly findRuntime: () => Promise<ContainerRuntime>;
  readonly log: Logger;
  /** Redacts credential patterns and the exact values of every stored credential. */
  readonly sanitizer: Sanitizer;
  /** Folders of plugin folders: the built-ins, then the user's. */
  readonly pluginSources: readonly PluginSource[];
  /** The start gate: the pinned, verified image id to run for a plugin, or a typed refusal. */
  readonly resolveImage: (runtime: ContainerRuntime, plugin: CatalogedPlugin, context: ImageGateContext) => Promise<string>;
  /**
   * Who decides on high-risk calls when no connection attached to (an MCP client that can elicit,
   * a `carapace confirm` terminal); absent means such calls are denied.
   */
  readonly confirmer?: Confirmer;
  /** Which caller groups may call which tools; by default the operator may call everything, plugins nothing. */
  readonly policy?: AccessPolicy;
  readonly clock?: Clock;
  readonly readyTimeoutMs?: number;
}

/** A core that holds its home's lock and serves tool calls. Stopping removes its containers and releases the lock. */
export interface RunningCore extends AsyncDisposable {
  readonly record: CoreRecord;
  readonly runtime: RuntimeDescription;
  /** Ids of containers a previous core left behind and this start removed. */
  readonly orphansRemoved: readonly string[];
  plugins(): readonly PluginReport[];
  stats(): CallStats;
  stop(): Promise<void>;
}

/**
 * By default the operator may call everything; agents every plugin tool and the control tools an
 * MCP front needs (never `confirm_all_calls`: an agent must not approve its own calls); plugins
 * nothing.
 */
export const DEFAULT_POLICY_GRANTS = {
  [OPERATOR.group]: ['*', 'carapace.*'],
  [AGENT.group]: ['*', 'carapace.catalog', 'carapace.skill', 'carapace.confirm_own_calls', 'carapace.decide'],
  [PLUGIN_GROUP]: [],
} as const;
const DEFAULT_READY_TIMEOUT_MS = 30_000;

/**
 * Starts the core: takes the home's lock (one core per home), removes containers a killed core
 * left (holding the lock proves no live core owns them), opens the audit log, loads every plugin
 * manifest, starts one hardened container per plugin, and only then opens the caller socket. Every
 * frame from a caller or a plugin goes through the six-stage pipeline; identity comes from which
 * socket it arrived on. A failure while starting undoes every step already taken.
 */
export async function startCore(deps: CoreDependencies): Promise<RunningCore> {
  const clock = deps.clock ?? systemClock;
  const { layout, config, log } = deps;
  const teardown = new Teardown(log);
  try {
    const runtime = await deps.findRuntime();
    teardown.add('runtime connection', () => runtime[Symbol.asyncDispose]());
    const description = await runtime.describe();
    const lock = await acquirePidLock(layout.pidFile, { pid: process.pid, startedAt: new Date(clock.now()).toISOString(), runtime: `${description.kind} ${description.version}` });
    teardown.add('pid lock', () => lock.release());
    const labels = homeLabels(layout.home);
    const orphansRemoved = await removeContainers(runtime, labels);
    if (orphansRemoved.length > 0) log.warn({ containers: orphansRemoved }, 'removed containers left by a previous core');
    teardown.add('containers', async () => void (await removeContainers(runtime, labels)));

    const audit = openAuditLog(layout.auditFile, { sanitize: (text) => deps.sanitizer.text(text), sync: config.audit.sync });
    const recorder = createAuditRecorder(audit);
    teardown.add('audit log', () => {
      recorder.flush();
      audit.close();
    });
    const unfinished = audit.intentsWithoutOutcome().length;
    await recorder.recordLifecycle({ event: 'core.started', detail: `pid ${String(process.pid)}; ${String(unfinished)} calls without outcome from earlier runs` });

    const events = await openEventPublisher(layout.eventSocket, (error) => log.warn({ err: error }, 'event not published'));
    teardown.add('event bus', () => events.close());
    const publish = (event: CoreEvent): void => events.publish(event);

    const catalog = await loadPluginCatalog(deps.pluginSources);
    for (const failure of catalog.failures) {
      log.error({ plugin: failure.plugin, err: failure.error }, 'plugin manifest rejected');
      await recorder.recordLifecycle({ event: 'plugin.rejected', plugin: failure.plugin, code: failure.error.code, detail: failure.error.message });
    }
    const { registry: pluginTools, rejected } = toToolRegistry(catalog.plugins.map((plugin) => plugin.manifest));
    for (const error of rejected) log.error({ err: error }, 'plugin rejected by the tool registry');
    const registry = new Map([...pluginTools, ...controlTools().map((tool) => [tool.topic, tool] as const)]);
    const skillLoads = await Promise.all(catalog.plugins.map((plugin) => loadPluginSkills(plugin)));
    for (const error of skillLoads.flatMap((load) => load.failures)) log.warn({ err: error }, 'plugin skill left out');

    const credentials = await openCredentialStore(layout.credentials);
    const context: Omit<PipelineContext, 'session'> = {
      tools: registry,
      policy: deps.policy ?? toAccessPolicy(DEFAULT_POLICY_GRANTS),
      rateLimiter: new CallRateLimiter(
        {
          perCaller: { capacity: config.calls.caller_burst, refillPerSecond: config.calls.caller_rate },
          perTool: { capacity: config.calls.tool_burst, refillPerSecond: config.calls.tool_rate },
        },
        clock,
      ),
      sanitizer: deps.sanitizer,
      limits: { wire: DEFAULT_WIRE_LIMITS, confirmTimeoutMs: config.calls.confirm_timeout_ms, callTimeoutMs: config.calls.timeout_ms },
    };

    let writeState = (): void => undefined;
    const supervisor: PluginSupervisor = new PluginSupervisor({
      runtime,
      layout,
      limits: toResourceLimits(config),
      wireLimits: DEFAULT_WIRE_LIMITS,
      readyTimeoutMs: deps.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
      credentials,
      resolveImage: (plugin) => deps.resolveImage(runtime, plugin, { layout, log, recordLifecycle: (record) => recorder.recordLifecycle(record) }),
      recorder,
      publish,
      log,
      onPluginCall: (plugin, frame, reply) => calls.handleFrame(frame, { source: plugin, group: PLUGIN_GROUP, sessionId: `plugin:${plugin}` }, reply),
      onPluginRefusedFrame: (refusal) => calls.handleRefusedFrame(refusal.error, refusal.bytes, { source: refusal.plugin, group: PLUGIN_GROUP, sessionId: `plugin:${refusal.plugin}` }, refusal.reply),
      onChange: () => writeState(),
    });
    const desk = new ConfirmationDesk(deps.confirmer);
    const operators = new CallerSessions(OPERATOR, (session) => desk.detach(session));
    const agents = new CallerSessions(AGENT, (session) => desk.detach(session));
    const running = new RunningCatalog(catalog.plugins, skillLoads.flatMap((load) => load.skills), (plugin) => supervisor.dispatcher.isRunning(plugin));
    const dispatcher = withControlTools(supervisor.dispatcher, {
      catalog: () => running.catalog(),
      skill: (plugin, path) => running.skill(plugin, path),
      desk,
      pushTo: (session) => operators.pushTo(session) ?? agents.pushTo(session),
    });
    const calls = createCallService({
      context,
      ports: { clock, newId: newCallId, confirmer: desk, dispatcher, audit: recorder },
      recorder,
      publish,
      log,
    });
    teardown.add('plugins', () => supervisor.stopAll());
    await supervisor.startAll(catalog.plugins);

    // Two sockets, one per caller group: which one a connection reached is its identity.
    for (const [socketPath, sessions] of [
      [layout.callerSocket, operators],
      [layout.agentSocket, agents],
    ] as const) {
      const sessionOf = (peer: CallerPeer): CallerSession => {
        const { session, isNew } = sessions.sessionFor(peer.id, peer.reply);
        if (isNew) publish({ type: 'agent.started', at: new Date(clock.now()).toISOString(), source: session.source, group: session.group, session: session.sessionId });
        return session;
      };
      const channel = await openCallerChannel({
        socketPath,
        maxFrameBytes: DEFAULT_WIRE_LIMITS.maxFrameBytes,
        onFrame: (frame, peer) => calls.handleFrame(frame, sessionOf(peer), peer.reply),
        onRefusedFrame: (error, bytes, peer) => void calls.handleRefusedFrame(error, bytes, sessionOf(peer), peer.reply),
        onError: (error) => log.error({ err: error, socket: socketPath }, 'caller socket error'),
      });
      teardown.add(`caller socket ${socketPath}`, () => channel.close());
    }

    const state = (): CoreState => ({
      pid: process.pid,
      startedAt: lock.record.startedAt,
      updatedAt: new Date(clock.now()).toISOString(),
      runtime: `${description.kind} ${description.version}`,
      callerSocket: layout.callerSocket,
      agentSocket: layout.agentSocket,
      eventSocket: layout.eventSocket,
      plugins: supervisor.list(),
      rejected: catalog.failures.map((failure) => ({ plugin: failure.plugin, dir: failure.dir, code: failure.error.code, message: failure.error.message })),
    });
    let stateWrites = Promise.resolve();
    writeState = () => {
      stateWrites = stateWrites.then(() => writeCoreState(layout.stateFile, state())).catch((error: unknown) => log.warn({ err: error }, 'core state not written'));
    };
    writeState();
    await stateWrites;
    log.info({ pid: process.pid, runtime: description, plugins: supervisor.list().map((plugin) => `${plugin.name}:${plugin.state}`) }, 'core serving');

    // Until stop, the core keeps its process alive by itself: a foreground core waiting only on a
    // signal would otherwise leave Node's event loop empty, and Node would exit mid-await.
    const keepAlive = setInterval(() => undefined, 2 ** 31 - 1);
    teardown.add('keep-alive', () => clearInterval(keepAlive));
    teardown.addFirst('state', async () => {
      writeState = () => undefined;
      await stateWrites;
      await recorder.recordLifecycle({ event: 'core.stopped', detail: `pid ${String(process.pid)}` }).catch(() => undefined);
    });
    const stop = (): Promise<void> => teardown.run();
    return {
      record: lock.record,
      runtime: description,
      orphansRemoved,
      plugins: () => supervisor.list(),
      stats: () => calls.stats(),
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await teardown.run();
    throw error;
  }
}
