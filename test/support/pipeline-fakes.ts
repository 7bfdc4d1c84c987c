import type { Clock } from '../../src/core/clock.js';
import type { AuditHook, CallIntent } from '../../src/core/pipeline/audit-hook.js';
import type { Cancellation } from '../../src/core/pipeline/cancellation.js';
import type { Decision } from '../../src/core/pipeline/decision.js';
import type { Dispatcher, DispatchRequest, PluginReply } from '../../src/core/pipeline/route.js';
import { parseManifest, type PluginManifest } from '../../src/wire/manifest.js';

/** A clock that moves only when told to, firing scheduled callbacks in time order. */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 0;
  readonly #timers = new Map<number, { readonly at: number; readonly callback: () => void }>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  schedule(delayMs: number, callback: () => void): () => void {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + delayMs, callback });
    return () => this.#timers.delete(id);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const due = [...this.#timers.entries()].filter(([, timer]) => timer.at <= target).sort(([, a], [, b]) => a.at - b.at)[0];
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].callback();
    }
    this.#now = target;
  }

  /** Sets the time, backwards too: a stepped wall clock. */
  set(ms: number): void {
    this.#now = ms;
  }

  get pendingTimers(): number {
    return this.#timers.size;
  }
}

/** `id-1`, `id-2`, ... */
export function sequentialIds(prefix = 'id'): () => string {
  let next = 0;
  return () => `${prefix}-${String(++next)}`;
}

/** An audit hook that keeps what it was given and logs each step into a shared timeline. */
export class RecordingAudit implements AuditHook {
  readonly intents: CallIntent[] = [];
  readonly outcomes: Decision[] = [];
  failIntent = false;
  failOutcome = false;

  constructor(private readonly timeline: string[]) {}

  async recordIntent(intent: CallIntent): Promise<void> {
    this.timeline.push(`intent:start:${intent.envelope.topic}`);
    // A durable write takes a while: anything that does not await it would overtake it here.
    for (let tick = 0; tick < 5; tick += 1) await Promise.resolve();
    if (this.failIntent) throw new Error('disk full');
    this.intents.push(intent);
    this.timeline.push(`intent:done:${intent.envelope.topic}`);
  }

  async recordOutcome(decision: Decision): Promise<void> {
    await Promise.resolve();
    if (this.failOutcome) throw new Error('disk full');
    this.outcomes.push(decision);
    this.timeline.push(`outcome:${decision.outcome}`);
  }
}

/** A dispatcher whose behaviour per call is a function the test sets. */
export class FakeDispatcher implements Dispatcher {
  running = new Set<string>(['echo', 'memory']);
  readonly requests: DispatchRequest[] = [];
  handle: (request: DispatchRequest, cancellation: Cancellation) => Promise<PluginReply> = (request) =>
    Promise.resolve({ ok: true, result: { echoed: request.envelope.arguments } });

  constructor(private readonly timeline: string[]) {}

  isRunning(plugin: string): boolean {
    return this.running.has(plugin);
  }

  dispatch(request: DispatchRequest, cancellation: Cancellation): Promise<PluginReply> {
    this.timeline.push(`dispatch:${request.envelope.topic}`);
    this.requests.push(request);
    return this.handle(request, cancellation);
  }
}

const closed = (properties: Record<string, unknown>, required: string[]): Record<string, unknown> => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});

/** The two built-in plugins' shapes: `echo.say` (low risk) and `memory.store` / `memory.delete` (high). */
export function testManifests(): PluginManifest[] {
  return [
    parseManifest(
      {
        name: 'echo',
        version: '1.0.0',
        image: 'localhost/carapace/echo:1',
        tools: [{ name: 'say', description: 'Echo the text back.', arguments: closed({ text: { type: 'string', maxLength: 1000 } }, ['text']), risk: 'low' }],
      },
      'echo/manifest.json',
    ),
    parseManifest(
      {
        name: 'memory',
        version: '1.0.0',
        image: 'localhost/carapace/memory:1',
        tools: [
          { name: 'store', description: 'Store a note.', arguments: closed({ text: { type: 'string' } }, ['text']), risk: 'low' },
          { name: 'delete', description: 'Delete a note.', arguments: closed({ id: { type: 'integer' } }, ['id']), risk: 'high' },
        ],
        credentials: ['MEMORY_KEY'],
        storage: { persistent: true, sizeMb: 16 },
      },
      'memory/manifest.json',
    ),
  ];
}
