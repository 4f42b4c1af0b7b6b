// Launches conmon 2.1.6 the way runtime.md §2 found to work: conmon runs `runc create`, reports the
// container's pid on the sync pipe (fd 3), double-forks and outlives us. We read the first line only.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { SwarmError } from '../../api/errors.js';

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

/** Runs conmon (→ runc create). Resolves with the container's init pid once created. */
export function launchConmon(l: ConmonLaunch, timeoutMs = 15_000): Promise<number> {
  return new Promise((resolve, reject) => {
    // cwd = bundle: conmon drops stray files (pidfile-<cid>, oom) into its cwd otherwise.
    const child = spawn(l.conmonPath, conmonArgs(l), {
      cwd: l.bundle,
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3' },
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const pipe = child.stdio[3];
    const stderr: Buffer[] = [];
    child.stdio[2]?.on('data', (b: Buffer) => stderr.push(b));
    let buf = '';
    let done = false;
    const finish = (err: Error | undefined, pid?: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // The pipe stays open until the container exits: never wait for its EOF.
      pipe?.destroy();
      child.stdio[2]?.destroy();
      child.unref();
      if (err) reject(err);
      else resolve(pid ?? -1);
    };
    const timer = setTimeout(
      () => finish(new SwarmError('INTERNAL', `conmon: no sync message within ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.on('error', (e) => finish(new SwarmError('INTERNAL', `conmon: ${e.message}`, { cause: e })));
    pipe?.on('error', () => undefined);
    pipe?.on('data', (b: Buffer) => {
      buf += b.toString('utf8');
      const nl = buf.indexOf('\n');
      const line = nl >= 0 ? buf.slice(0, nl) : buf;
      const msg = SyncMessage(line.trim());
      if (!msg) return;
      if (msg.pid > 0) finish(undefined, msg.pid);
      else finish(new SwarmError('INTERNAL', cleanRuncMessage(msg.message ?? 'runc create failed')));
    });
    pipe?.on('close', () => {
      const text = Buffer.concat(stderr).toString('utf8').trim();
      finish(new SwarmError('INTERNAL', `conmon exited without a sync message${text ? `: ${text}` : ''}`));
    });
  });
}

/** `time=… level=error msg="runc create failed: …"` → the msg text. */
export function cleanRuncMessage(m: string): string {
  const match = /msg="((?:[^"\\]|\\.)*)"/.exec(m);
  return match?.[1] ? match[1].replace(/\\"/g, '"') : m.trim();
}
