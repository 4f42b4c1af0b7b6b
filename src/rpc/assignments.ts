// Incremental assignments, both ends, pure: the manager sends the node's task set as a COMPLETE
// message once and then only what changed (tasks whose version moved, IDs that left the set); the
// agent applies each message to its copy and hands the agent the whole set again.
import type { Task } from '../api/types.js';

export interface AssignmentsChange {
  type: 'COMPLETE' | 'INCREMENTAL';
  appliesTo: number;
  resultsIn: number;
  update: Task[];
  remove: string[];
}

/** What the sender remembers of the set it last sent: task ID → version index. */
export interface SentSet {
  sequence: number;
  versions: Map<string, number>;
}

/**
 * The message that brings the receiver from `sent` to `tasks`, or undefined when nothing changed.
 * Without a previous set (first message) it is COMPLETE. Returns the new remembered set.
 */
export function diffAssignments(
  sent: SentSet | undefined,
  tasks: readonly Task[],
): { message: AssignmentsChange; sent: SentSet } | undefined {
  const versions = new Map(tasks.map((t) => [t.ID, t.Version.Index]));
  if (!sent) {
    return {
      message: { type: 'COMPLETE', appliesTo: 0, resultsIn: 1, update: [...tasks], remove: [] },
      sent: { sequence: 1, versions },
    };
  }
  const update = tasks.filter((t) => sent.versions.get(t.ID) !== t.Version.Index);
  const remove = [...sent.versions.keys()].filter((id) => !versions.has(id));
  if (update.length === 0 && remove.length === 0) return undefined;
  const resultsIn = sent.sequence + 1;
  return {
    message: { type: 'INCREMENTAL', appliesTo: sent.sequence, resultsIn, update, remove },
    sent: { sequence: resultsIn, versions },
  };
}

/** The receiver's copy of the set. */
export interface ReceivedSet {
  sequence: number;
  tasks: Map<string, Task>;
}

/**
 * Applies one message. A COMPLETE message replaces the set; an INCREMENTAL one must apply to the set
 * held (a gap means a lost message: the caller reopens the stream to get a COMPLETE set again).
 */
export function applyAssignments(
  held: ReceivedSet | undefined,
  message: AssignmentsChange,
): ReceivedSet | 'gap' {
  if (message.type === 'COMPLETE') {
    return { sequence: message.resultsIn, tasks: new Map(message.update.map((t) => [t.ID, t])) };
  }
  if (!held || held.sequence !== message.appliesTo) return 'gap';
  const tasks = new Map(held.tasks);
  for (const id of message.remove) tasks.delete(id);
  for (const t of message.update) tasks.set(t.ID, t);
  return { sequence: message.resultsIn, tasks };
}
