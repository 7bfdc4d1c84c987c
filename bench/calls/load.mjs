// The two measurements every scenario gets, over any caller with `call(timeoutMs) -> Promise<boolean>`
// (true: the right reply came back; false: a reply came back but it was wrong or an error; a
// rejection: no reply at all, which counts as dropped).

/** Percentile by nearest rank over sorted values. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function summarize(latenciesMs, wallMs, expected, received, wrong) {
  const sorted = Float64Array.from(latenciesMs).sort();
  return {
    calls: expected,
    received,
    dropped: expected - received,
    wrong,
    wallMs,
    callsPerSecond: (received / wallMs) * 1000,
    p50Us: percentile(sorted, 50) * 1000,
    p99Us: percentile(sorted, 99) * 1000,
    maxUs: sorted.length > 0 ? sorted[sorted.length - 1] * 1000 : NaN,
  };
}

/**
 * One caller, one call at a time: `warmup` calls unmeasured (connections, JIT, caches), then
 * `calls` measured ones.
 */
export async function measureSequential(caller, { warmup, calls, timeoutMs }) {
  for (let index = 0; index < warmup; index++) await caller.call(timeoutMs);
  return runLoop([caller], { perCaller: calls, inFlight: 1, timeoutMs });
}

/**
 * Every caller at once, each keeping `inFlight` calls outstanding (a new call as soon as one is
 * answered) until it has made `perCaller` calls. Throughput is answered calls over the wall time
 * from the first send to the last reply.
 */
export async function measureConcurrent(callers, { warmup, perCaller, inFlight, timeoutMs }) {
  await Promise.all(callers.map(async (caller) => {
    for (let index = 0; index < warmup; index++) await caller.call(timeoutMs);
  }));
  return runLoop(callers, { perCaller, inFlight, timeoutMs });
}

async function runLoop(callers, { perCaller, inFlight, timeoutMs }) {
  const latencies = [];
  let received = 0;
  let wrong = 0;
  const lane = async (caller, count) => {
    for (let index = 0; index < count; index++) {
      const sent = performance.now();
      try {
        const right = await caller.call(timeoutMs);
        latencies.push(performance.now() - sent);
        received++;
        if (!right) wrong++;
      } catch {
        // No reply within the timeout, or the socket failed: a dropped reply.
      }
    }
  };
  const lanes = [];
  for (const caller of callers) {
    for (let slot = 0; slot < inFlight; slot++) {
      lanes.push(lane(caller, Math.floor(perCaller / inFlight) + (slot < perCaller % inFlight ? 1 : 0)));
    }
  }
  const started = performance.now();
  await Promise.all(lanes);
  const wallMs = performance.now() - started;
  return summarize(latencies, wallMs, callers.length * perCaller, received, wrong);
}
