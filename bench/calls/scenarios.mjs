// The three measured paths. Each starts what it needs, measures one caller and then many, and
// removes everything it started before it returns or throws.
import { readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { homeLabels } from '../../dist/core/container-labels.js';
import { Cleanup } from './cleanup.mjs';
import { auditHead, connectCoreCaller, coreCallStats, makeBenchHome, startCoreProcess, verifyAudit } from './core-process.mjs';
import { summarizeProfile } from './cpu-profile.mjs';
import { CONTAINER_UID, containerPid, makeSocketDir, startEchoContainer } from './echo-container.mjs';
import { measureConcurrent, measureSequential } from './load.mjs';
import { procUsage, startMeasuredProcess } from './measured-process.mjs';
import { bindDirectEcho, connectRelayCaller, connectWireCaller } from './raw-callers.mjs';

const RELAY = fileURLToPath(new URL('relay.mjs', import.meta.url));
const CONNECT_TIMEOUT_MS = 30_000;

const within = (promise, ms, what) =>
  Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms).unref())]);

/**
 * Runs `measure` and adds the CPU each process spent on it, in microseconds per answered call: the
 * callers (this process), and each of `processes` from /proc (10 ms ticks), split into user and
 * system time and by thread (node's main thread, libzmq's I/O thread, ...).
 */
async function withCpu(processes, measure) {
  const read = () => Promise.all(processes.map(({ pid }) => procUsage(pid)));
  const before = await read();
  const callersBefore = process.cpuUsage();
  const result = await measure();
  const callers = process.cpuUsage(callersBefore);
  const after = await read();
  const perCall = (ms) => (ms * 1000) / Math.max(1, result.received);
  const cpuUsPerCall = { callers: perCall((callers.user + callers.system) / 1000) };
  const cpuDetail = {};
  processes.forEach(({ role }, index) => {
    const [was, is] = [before[index], after[index]];
    cpuUsPerCall[role] = perCall(is.cpuMs - was.cpuMs);
    const threads = Object.entries(is.threads).map(([name, t]) => {
      const old = was.threads[name] ?? { userMs: 0, systemMs: 0 };
      return [name, perCall(t.userMs + t.systemMs - old.userMs - old.systemMs)];
    });
    cpuDetail[role] = { user: perCall(is.userMs - was.userMs), system: perCall(is.systemMs - was.systemMs), threads: Object.fromEntries(threads.filter(([, us]) => us > 0)) };
  });
  return { ...result, cpuUsPerCall, cpuDetail };
}

/** Profiles the child's CPU while `measure` runs, when a profile directory was asked for. */
async function profiled(child, ctx, name, measure) {
  if (ctx.profileDir === undefined || child === undefined) return measure();
  await child.request('profile-start');
  const result = await measure();
  const path = `${ctx.profileDir}/${name}.cpuprofile`;
  await child.request('profile-stop', { path });
  return { ...result, profile: { path, ...(await summarizeProfile(path)) } };
}

async function measureBoth(ctx, processes, newCaller, profileChild, name) {
  const { options } = ctx;
  const sequential = await withCpu(processes, () =>
    measureSequential(newCaller(), { warmup: options.warmup, calls: options.calls, timeoutMs: options.timeoutMs }),
  );
  const callers = Array.from({ length: options.callers }, () => newCaller());
  const concurrent = await withCpu(processes, () =>
    profiled(profileChild, ctx, name, () =>
      measureConcurrent(callers, { warmup: options.callerWarmup, perCaller: options.perCaller, inFlight: options.inFlight, timeoutMs: options.timeoutMs }),
    ),
  );
  return { sequential, concurrent };
}

/** (a) Host ROUTER <-> echo container: one container boundary, nothing else. */
export async function rawEcho(ctx) {
  const scope = new Cleanup();
  try {
    const socketDir = await makeSocketDir('carapace-bench-a-');
    scope.add('socket directory', () => rm(socketDir, { recursive: true, force: true }));
    const echo = await bindDirectEcho(socketDir, CONTAINER_UID, ctx.payload);
    scope.add('router', () => echo.close());
    const container = await startEchoContainer(ctx.runtime, ctx.imageId, socketDir, ctx.labels, ctx.containerLimits);
    scope.add(`container ${container.id}`, () => container.remove());
    await within(echo.connected, CONNECT_TIMEOUT_MS, 'the echo container did not connect');
    const processes = [{ role: 'container', pid: await containerPid(ctx.apiSocket, container.id) }];
    return await measureBoth(ctx, processes, () => echo.caller(), undefined, 'a');
  } finally {
    await scope.run();
  }
}

/** (b) Caller DEALERs -> relay process (ROUTER front, ROUTER back) -> echo container, and back. */
export async function rawRelay(ctx) {
  const scope = new Cleanup();
  try {
    const socketDir = await makeSocketDir('carapace-bench-b-');
    scope.add('socket directory', () => rm(socketDir, { recursive: true, force: true }));
    const callerDir = await makeSocketDir('carapace-bench-b-callers-');
    scope.add('caller socket directory', () => rm(callerDir, { recursive: true, force: true }));
    const frontPath = `${callerDir}/caller.sock`;
    const relay = await startMeasuredProcess(['--expose-gc', RELAY, frontPath, socketDir, String(CONTAINER_UID)], { ready: 'bound', timeoutMs: CONNECT_TIMEOUT_MS, label: 'relay' });
    scope.add(`relay pid ${relay.pid}`, () => relay.stop());
    const container = await startEchoContainer(ctx.runtime, ctx.imageId, socketDir, ctx.labels, ctx.containerLimits);
    scope.add(`container ${container.id}`, () => container.remove());
    await relay.waitFor('peer', CONNECT_TIMEOUT_MS);
    const processes = [
      { role: 'server', pid: relay.pid },
      { role: 'container', pid: await containerPid(ctx.apiSocket, container.id) },
    ];
    const opened = [];
    scope.add('callers', () => Promise.all(opened.map((caller) => caller.close())));
    const newCaller = () => {
      const caller = connectRelayCaller(frontPath, ctx.payload);
      opened.push(caller);
      return caller;
    };
    const memoryBefore = await relay.request('memory');
    const result = await measureBoth(ctx, processes, newCaller, relay, 'b');
    return { ...result, memory: { before: memoryBefore, after: await relay.request('memory'), usage: await relay.usage() } };
  } finally {
    await scope.run();
  }
}

/** (c) The real core (`carapace start` in its own home) and warm `echo.echo` calls through its caller socket. */
export async function fullPath(ctx) {
  const scope = new Cleanup();
  try {
    const { home, layout } = await makeBenchHome(ctx.apiSocket, ctx.options.pluginCpus, ctx.options.auditSync);
    scope.add('bench home', () => rm(home, { recursive: true, force: true }));
    // Runs after the core has stopped: anything it could not remove (a killed core) goes by id.
    scope.add('leftover containers', async () => {
      for (const container of await ctx.runtime.list(homeLabels(home))) await ctx.runtime.remove(container.id);
    });
    const core = await startCoreProcess(home);
    let stopped;
    const stopCore = () => (stopped ??= core.stop());
    scope.add(`core pid ${core.pid}`, stopCore);
    const state = JSON.parse(await readFile(layout.stateFile, 'utf8'));
    const echo = state.plugins.find((plugin) => plugin.name === 'echo');
    if (echo?.state !== 'running') throw new Error(`the echo plugin is not running: ${JSON.stringify(echo)}`);
    const processes = [
      { role: 'server', pid: core.pid },
      { role: 'container', pid: await containerPid(ctx.apiSocket, echo.container.id) },
    ];
    const codes = new Map();
    const opened = [];
    scope.add('callers', () => opened.forEach((caller) => caller.close()));
    const countCode = (reply) => {
      const code = reply.ok ? 'OK' : reply.error?.code;
      codes.set(code, (codes.get(code) ?? 0) + 1);
    };
    const newCaller = () => {
      const caller =
        ctx.options.client === 'carapace'
          ? connectCoreCaller(layout, ctx.payloadText, countCode)
          : connectWireCaller(layout.callerSocket, ctx.payloadText, countCode);
      opened.push(caller);
      return caller;
    };
    const memoryBefore = { ...(await core.request('memory')), ...(await core.usage()) };
    const auditBefore = auditHead(layout);
    const result = await measureBoth(ctx, processes, newCaller, core, 'c');
    const memoryAfter = { ...(await core.request('memory')), ...(await core.usage()) };
    const auditAfter = auditHead(layout);
    for (const caller of opened.splice(0)) caller.close();
    const exit = await stopCore();
    return {
      ...result,
      memory: { before: memoryBefore, after: memoryAfter },
      audit: { records: auditAfter - auditBefore, chain: verifyAudit(layout) },
      replyCodes: Object.fromEntries(codes),
      coreCounters: coreCallStats(core.stdout),
      coreExit: exit,
    };
  } finally {
    await scope.run();
  }
}
