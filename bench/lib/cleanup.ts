// A stack of undo steps for a benchmark: run in reverse order at the end, on failure, and on
// SIGINT/SIGTERM, so containers, daemons, netns and temp dirs never outlive the run.

export type UndoStep = () => Promise<unknown> | unknown;

export class Cleanup {
  private readonly steps: { label: string; fn: UndoStep }[] = [];
  private running: Promise<void> | undefined;

  /** Registers an undo step; the latest registered runs first. */
  defer(label: string, fn: UndoStep): void {
    this.steps.push({ label, fn });
  }

  /** Runs every step once (later calls wait for the first); a failing step is reported, not fatal. */
  run(): Promise<void> {
    this.running ??= (async () => {
      while (this.steps.length > 0) {
        const step = this.steps.pop();
        if (!step) break;
        try {
          await step.fn();
        } catch (err) {
          console.error(`cleanup: ${step.label} failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    })();
    return this.running;
  }
}

/**
 * Runs `body` with a fresh cleanup stack that is always unwound: after success, after a throw, and
 * when the process is interrupted (then it exits 130).
 */
export async function withCleanup<T>(body: (cleanup: Cleanup) => Promise<T>): Promise<T> {
  const cleanup = new Cleanup();
  const onSignal = (sig: NodeJS.Signals) => {
    console.error(`\n${sig}: cleaning up…`);
    void cleanup.run().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await body(cleanup);
  } finally {
    await cleanup.run();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
