// The agent's task state machine as a pure function (SwarmKit agent/exec `Do`): given the observed
// and desired states, what to do next. The worker loop (worker.ts) performs the action.
import { type TaskState, taskStateIndex } from '../api/types.js';

export type StepAction =
  /** Report a new state without calling the executor (e.g. ASSIGNED → ACCEPTED). */
  | { kind: 'report'; state: TaskState; message: string }
  /** Report PREPARING, call prepare(), then READY ("prepared"); failure → REJECTED. */
  | { kind: 'prepare' }
  /** Report STARTING, call start(), then RUNNING ("started"); failure → FAILED. */
  | { kind: 'start' }
  /** Wait for the process: exit 0 → COMPLETE ("finished"), else FAILED. */
  | { kind: 'wait' }
  /** Call shutdown(), then SHUTDOWN ("shutdown"). */
  | { kind: 'shutdown' }
  /** Nothing to do until the desired state changes. */
  | { kind: 'idle' };

const idx = taskStateIndex;

export function isTerminal(s: TaskState): boolean {
  return idx(s) >= idx('complete');
}

export function nextStep(observed: TaskState, desired: TaskState): StepAction {
  if (isTerminal(observed)) return { kind: 'idle' };
  if (idx(desired) >= idx('shutdown')) return { kind: 'shutdown' };
  // Steps that were begun go forward whatever the desired state (they are not re-entrant).
  switch (observed) {
    case 'preparing':
      return { kind: 'prepare' };
    case 'starting':
      return { kind: 'start' };
    case 'running':
      return { kind: 'wait' };
    default:
      break;
  }
  // The others move only while desired is ahead: desired READY holds a task before it starts.
  if (idx(desired) <= idx(observed)) return { kind: 'idle' };
  switch (observed) {
    case 'new':
    case 'pending':
    case 'assigned':
      return { kind: 'report', state: 'accepted', message: 'accepted' };
    case 'accepted':
      return { kind: 'prepare' };
    case 'ready':
      return { kind: 'start' };
    default:
      return { kind: 'idle' };
  }
}

/** The status a finished process gives its task, in SwarmKit's words. */
export function exitOutcome(
  exitCode: number,
  oomKilled: boolean,
): { state: TaskState; message: string; err?: string } {
  if (exitCode === 0 && !oomKilled) return { state: 'complete', message: 'finished' };
  return {
    state: 'failed',
    message: 'started',
    err: oomKilled ? `task: non-zero exit (${exitCode}): OOM killed` : `task: non-zero exit (${exitCode})`,
  };
}

/** A state change is only ever forward (the reporter drops stale ones). */
export function isForward(from: TaskState, to: TaskState): boolean {
  return idx(to) > idx(from);
}
