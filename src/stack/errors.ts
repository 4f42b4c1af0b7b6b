// Errors of the compose loader: every problem names the file, the line and the key, so a user can
// go straight to it ("compose.yml:12: services.web.deploy.replicas: must be a number, got \"two\"").
import { SwarmError } from '../api/errors.js';

/** A key path in a compose document: mapping keys and list indexes, e.g. ['services', 'web', 'ports', 0]. */
export type KeyPath = readonly (string | number)[];

/** One problem found in a compose file. `line` is 1-based; absent when no line is known. */
export interface ComposeIssue {
  file: string;
  line?: number;
  /** Dotted key path with list indexes in brackets: `services.web.ports[0]`; empty for the whole file. */
  key: string;
  message: string;
}

/** Renders a key path as users read it: `services.web.ports[1].target`. */
export function formatKey(path: KeyPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

export function formatIssue(issue: ComposeIssue): string {
  const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}`;
  const prefix = where === '' ? '' : `${where}: `;
  return issue.key === '' ? `${prefix}${issue.message}` : `${prefix}${issue.key}: ${issue.message}`;
}

/**
 * A compose project that cannot be deployed as written. It is an INVALID_ARGUMENT SwarmError (the
 * project's one error class); `issues` lists every problem found, one per line of `message`.
 */
export class ComposeError extends SwarmError {
  readonly issues: readonly ComposeIssue[];
  constructor(issues: readonly ComposeIssue[]) {
    super('INVALID_ARGUMENT', issues.map(formatIssue).join('\n'));
    this.name = 'ComposeError';
    this.issues = issues;
  }
}

/** Where a key was written: `file` and 1-based `line`. */
export interface Location {
  file: string;
  line: number;
}

/**
 * Locations of the keys of a project, by formatted key (`services.web.image`). A later file's
 * location replaces an earlier one for the same key, as its value does in the merge.
 */
export type Locations = Record<string, Location>;

/** The location of `path`, or of its nearest located ancestor (merged-in or defaulted keys have none). */
export function locate(locations: Locations, file: string, path: KeyPath): Location | { file: string } {
  for (let n = path.length; n >= 0; n--) {
    const found = locations[formatKey(path.slice(0, n))];
    if (found) return found;
  }
  return { file };
}

/** An issue at `path`, placed with `locations` (falls back to `file` without a line). */
export function issueAt(locations: Locations, file: string, path: KeyPath, message: string): ComposeIssue {
  const where = locate(locations, file, path);
  return { ...where, key: formatKey(path), message };
}
