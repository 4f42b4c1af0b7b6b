// Launches conmon 2.1.6 the way runtime.md §2 found to work: conmon runs `runc create`, reports the
// container's pid on the sync pipe (fd 3), double-forks and outlives us. We read the first line only.
import { join } from 'node:path';
import { SwarmError } from '../../api/errors.js';
import { run } from '../../lib/exec.js';

export interface ConmonLaunch {
  conmonPath: string;
  runcPath: string;
  runcRoot: string;
  runcId: string;
  /** Short unique id: conmon links <socketDir>/<cuuid> → bundle, and unix socket paths are short. */
  cuuid: string;
  bundle: string;
  /** conmon's k8s-file log. */
  logPath: string;
  exitDir: string;
  socketDir: string;
  logSizeMax: number;
}

/** conmon's argv. Every flag here is needed: see the pitfalls table in runtime.md §2. */
export function conmonArgs(l: ConmonLaunch): string[] {
  return [
    '--api-version',
    '1',
    '-c',
    l.runcId,
    '-u',
    l.cuuid,
    '-n',
    l.runcId,
    '-r',
    l.runcPath,
    '--runtime-arg',
    `--root=${l.runcRoot}`,
    '-b',
    l.bundle,
    '-p',
    join(l.bundle, 'pidfile'),
    '-P',
    join(l.bundle, 'conmon.pid'),
    '--exit-dir',
    l.exitDir,
    '-0',
    join(l.bundle, 'persist'),
    '-l',
    `k8s-file:${l.logPath}`,
    '--log-size-max',
    String(l.logSizeMax),
    '--socket-dir-path',
    l.socketDir,
  ];
}

const SyncMessage = (line: string): { pid: number; message?: string } | undefined => {
  try {
    const v: unknown = JSON.parse(line);
    if (typeof v !== 'object' || v === null || !('data' in v) || typeof v.data !== 'number') return undefined;
    return {
      pid: v.data,
      ...('message' in v && typeof v.message === 'string' ? { message: v.message } : {}),
    };
  } catch {
    return undefined;
  }
};

/**
 * Runs conmon (→ runc create). Resolves with the container's init pid once created. Launched
 * through run() (the spawn helper in swarmd): a spawn from swarmd itself blocks its event loop for
 * as long as the fork takes, ~17 ms per container here.
 */
export async function launchConmon(l: ConmonLaunch, timeoutMs = 15_000): Promise<number> {
  const r = await run(l.conmonPath, conmonArgs(l), {
    // cwd = bundle: conmon drops stray files (pidfile-<cid>, oom) into its cwd otherwise.
    cwd: l.bundle,
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3' },
    syncPipe: true,
    timeoutMs,
    okCodes: [0, 1],
  }).catch((err: unknown) => {
    throw new SwarmError('INTERNAL', `conmon: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  });
  const msg = SyncMessage(r.stdout.trim());
  if (!msg) {
    const text = r.stderr.trim();
    throw new SwarmError('INTERNAL', `conmon exited without a sync message${text ? `: ${text}` : ''}`);
  }
  if (msg.pid > 0) return msg.pid;
  throw new SwarmError('INTERNAL', cleanRuncMessage(msg.message ?? 'runc create failed'));
}

/** `time=… level=error msg="runc create failed: …"` → the msg text. */
export function cleanRuncMessage(m: string): string {
  const match = /msg="((?:[^"\\]|\\.)*)"/.exec(m);
  return match?.[1] ? match[1].replace(/\\"/g, '"') : m.trim();
}
