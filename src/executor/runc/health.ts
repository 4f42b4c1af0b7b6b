// Pure Docker HEALTHCHECK semantics: merging spec and image settings, the probe command, and how a
// probe result moves State.Health (starting → healthy ↔ unhealthy). The probing loop lives in runtime.ts.
import type { HealthConfig, HealthLogEntry, HealthState } from '../types.js';

/** Docker's defaults (moby daemon/health.go). */
export const HEALTH_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0 };
/** Docker keeps the last 5 probe results and at most 4096 bytes of each one's output. */
export const HEALTH_LOG_ENTRIES = 5;
export const HEALTH_OUTPUT_MAX = 4096;

export interface HealthSettings {
  /** argv run inside the container by `runc exec`. */
  command: string[];
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

const nsToMs = (ns: number | undefined) => (ns && ns > 0 ? Math.round(ns / 1e6) : 0);

/** The spec's healthcheck over the image's (field by field, as Docker merges); undefined = no check. */
export function healthSettings(spec?: HealthConfig, image?: HealthConfig): HealthSettings | undefined {
  const test = spec?.Test && spec.Test.length > 0 ? spec.Test : image?.Test;
  if (!test || test.length === 0 || test[0] === 'NONE') return undefined;
  let command: string[];
  if (test[0] === 'CMD') command = test.slice(1);
  else if (test[0] === 'CMD-SHELL') command = ['/bin/sh', '-c', test.slice(1).join(' ')];
  else return undefined;
  if (command.length === 0) return undefined;
  const pick = (f: 'Interval' | 'Timeout' | 'StartPeriod', dflt: number) =>
    nsToMs(spec?.[f]) || nsToMs(image?.[f]) || dflt;
  return {
    command,
    intervalMs: pick('Interval', HEALTH_DEFAULTS.intervalMs),
    timeoutMs: pick('Timeout', HEALTH_DEFAULTS.timeoutMs),
    startPeriodMs: pick('StartPeriod', HEALTH_DEFAULTS.startPeriodMs),
    retries:
      (spec?.Retries ?? 0) > 0 ? (spec?.Retries ?? 0) : (image?.Retries ?? 0) > 0 ? (image?.Retries ?? 0) : 3,
  };
}

export function initialHealth(): HealthState {
  return { Status: 'starting', FailingStreak: 0, Log: [] };
}

/** Docker's message for a probe that ran past its timeout. */
export function timeoutOutput(timeoutMs: number): string {
  return `Health check exceeded timeout (${timeoutMs / 1000}s)`;
}

/**
 * One probe result → the next health state. A success makes the container healthy at once; a failure
 * counts towards `retries` except while the container is still "starting" inside its start period.
 */
export function applyProbe(
  state: HealthState,
  result: HealthLogEntry,
  settings: HealthSettings,
  inStartPeriod: boolean,
): HealthState {
  const entry = { ...result, Output: result.Output.slice(0, HEALTH_OUTPUT_MAX) };
  const Log = [...state.Log, entry].slice(-HEALTH_LOG_ENTRIES);
  if (result.ExitCode === 0) return { Status: 'healthy', FailingStreak: 0, Log };
  if (state.Status === 'starting' && inStartPeriod) return { ...state, Log };
  const FailingStreak = state.FailingStreak + 1;
  return { Status: FailingStreak >= settings.retries ? 'unhealthy' : state.Status, FailingStreak, Log };
}
