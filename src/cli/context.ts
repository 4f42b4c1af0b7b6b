// What a command needs from the outside world, passed in so commands can run in tests against a
// fake daemon with captured output: the Engine API client, output streams, environment, whether
// stdout is a terminal, a clock, and an interrupt signal (Ctrl-C).

import type { EngineClient } from './client.js';

export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: Record<string, string | undefined>;
  isTTY: boolean;
  now: () => number;
  /** Aborted on SIGINT. */
  interrupt: AbortSignal;
}

export interface CommandContext extends CliIO {
  client: EngineClient;
  /** Program name shown in messages ("swarmctl"). */
  prog: string;
}

/** Resolves after ms; resolves false early if interrupted. */
export function interruptibleSleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A failure reported as plain text on stderr with exit status 1 (docker's "Error: …" cases). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
