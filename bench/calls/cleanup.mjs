// Undo steps for everything a scenario starts (containers by id, processes by PID, sockets, temp
// directories), run last-in first-out whether the scenario succeeded or not, and on Ctrl-C.
const active = new Set();

export class Cleanup {
  #steps = [];

  constructor() {
    active.add(this);
  }

  add(label, step) {
    this.#steps.push({ label, step });
  }

  /** Runs every step, newest first; a failing step is reported and the rest still run. */
  async run() {
    active.delete(this);
    while (this.#steps.length > 0) {
      const { label, step } = this.#steps.pop();
      try {
        await step();
      } catch (error) {
        console.error(`cleanup: ${label} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}

/** On SIGINT or SIGTERM, undo everything still pending, then exit. */
export function cleanUpOnSignals() {
  const onSignal = async (signal) => {
    console.error(`\n${signal}: cleaning up`);
    for (const cleanup of [...active].reverse()) await cleanup.run();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}
