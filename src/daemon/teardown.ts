import { toCarapaceError } from '../errors.js';
import type { Logger } from '../logging/logger.js';

interface Step {
  readonly name: string;
  readonly run: () => unknown;
}

/**
 * The core's resources, released in the reverse order they were acquired. Used both when a start
 * fails half-way (so nothing is left half-made: no container, no socket, no held lock) and on stop.
 * Every step runs even if an earlier one failed; failures are logged, never swallowed silently.
 */
export class Teardown {
  private readonly steps: Step[] = [];
  private readonly firstSteps: Step[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly log: Logger) {}

  /** Released before everything added earlier. */
  add(name: string, run: () => unknown): void {
    this.steps.push({ name, run });
  }

  /** Released before everything, whenever it was added. */
  addFirst(name: string, run: () => unknown): void {
    this.firstSteps.push({ name, run });
  }

  /** Runs every step once; later calls return the same promise. */
  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of [...this.firstSteps, ...[...this.steps].reverse()]) {
        try {
          await step.run();
        } catch (error) {
          this.log.error({ step: step.name, err: toCarapaceError(error, 'INTERNAL', `releasing ${step.name} failed`) }, 'teardown step failed');
        }
      }
    })();
    return this.running;
  }
}
