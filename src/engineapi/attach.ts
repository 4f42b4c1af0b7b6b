// Engine API routes that connect a client to processes of the node's containers: exec (create,
// start on a hijacked connection, resize, inspect) and `docker attach` (the container's live output)
// with container resize. Docker's stream framing and wording; the processes are the runtime's.
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { z } from 'zod';
import { conflict, invalidArgument } from '../api/errors.js';
import type { ConsoleSize } from '../executor/runc/exec.js';
import type { ContainerRuntime, ExecConfig } from '../executor/runc/runtime.js';
import { createLogger } from '../lib/log.js';
import { boolParam, type Route, type RouteContext, sendJSON, sendNoContent } from './router.js';

const log = createLogger({ component: 'engineapi' });
const RAW_STREAM = 'application/vnd.docker.raw-stream';

// ------------------------------------------------------------------ pure

/** Docker's stream framing for non-tty streams: [stream, 0, 0, 0, size BE32] + payload. */
export function frame(stream: 'stdout' | 'stderr', payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = stream === 'stdout' ? 1 : 2;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

/** Content type of a framed stream: named "multiplexed" from API 1.42 on. */
export function streamContentType(apiVersion: string): string {
  const [maj = 1, min = 0] = apiVersion.split('.').map(Number);
  return maj > 1 || min >= 42 ? 'application/vnd.docker.multiplexed-stream' : RAW_STREAM;
}

/** One of a resize's `h`/`w`: Go's strconv.Atoi and its wording, then what a winsize holds. */
function sizeParam(query: URLSearchParams, name: 'h' | 'w'): number {
  const v = query.get(name) ?? '';
  if (!/^[+-]?\d+$/.test(v))
    throw invalidArgument(`strconv.Atoi: parsing ${JSON.stringify(v)}: invalid syntax`);
  const n = Number(v);
  if (n < 0 || n > 0xffff) throw invalidArgument(`invalid terminal size: ${name}=${v} (0 to 65535)`);
  return n;
}

/** `?h=ROWS&w=COLS` of POST /exec/{id}/resize and /containers/{id}/resize. */
export function parseConsoleSize(query: URLSearchParams): ConsoleSize {
  return [sizeParam(query, 'h'), sizeParam(query, 'w')];
}

const consoleSize = z.tuple([z.number().int().min(0).max(0xffff), z.number().int().min(0).max(0xffff)]);

const execCreateSchema = z.object({
  Cmd: z.array(z.string()).min(1, 'No exec command specified'),
  Env: z.array(z.string()).nullish(),
  User: z.string().nullish(),
  WorkingDir: z.string().nullish(),
  Tty: z.boolean().nullish(),
  ConsoleSize: consoleSize.nullish(),
  AttachStdin: z.boolean().nullish(),
  AttachStdout: z.boolean().nullish(),
  AttachStderr: z.boolean().nullish(),
  Privileged: z.boolean().nullish(),
  DetachKeys: z.string().nullish(),
});
const execStartSchema = z
  .object({ Detach: z.boolean().nullish(), Tty: z.boolean().nullish(), ConsoleSize: consoleSize.nullish() })
  .nullish();

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw invalidArgument(r.error.issues.map((i) => i.message).join('; '));
  return r.data;
}

// ------------------------------------------------------------------ routes

export function attachRoutes(runtime: ContainerRuntime): Route[] {
  return [
    {
      method: 'POST',
      path: '/containers/:id/exec',
      handler: async (ctx) => {
        const body = parse(execCreateSchema, await ctx.json());
        const config: ExecConfig = {
          Cmd: body.Cmd,
          ...(body.Env ? { Env: body.Env } : {}),
          ...(body.User ? { User: body.User } : {}),
          ...(body.WorkingDir ? { WorkingDir: body.WorkingDir } : {}),
          Tty: body.Tty ?? false,
          ...(body.Tty && body.ConsoleSize ? { ConsoleSize: body.ConsoleSize } : {}),
          AttachStdin: body.AttachStdin ?? false,
          AttachStdout: body.AttachStdout ?? false,
          AttachStderr: body.AttachStderr ?? false,
        };
        const inst = runtime.createExec(ctx.params.id ?? '', config);
        sendJSON(ctx.res, 201, { Id: inst.ID });
      },
    },
    {
      method: 'POST',
      path: '/exec/:id/start',
      handler: (ctx) => execStartHandler(runtime, ctx),
    },
    {
      method: 'POST',
      path: '/exec/:id/resize',
      handler: async (ctx) => {
        const size = parseConsoleSize(ctx.query);
        await runtime.resizeExec(ctx.params.id ?? '', size);
        sendNoContent(ctx.res, 200);
      },
    },
    {
      method: 'GET',
      path: '/exec/:id/json',
      handler: (ctx) => {
        const e = runtime.getExec(ctx.params.id ?? '');
        sendJSON(ctx.res, 200, {
          ID: e.ID,
          Running: e.Running,
          ExitCode: e.ExitCode,
          ProcessConfig: {
            tty: e.Config.Tty ?? false,
            entrypoint: e.Config.Cmd[0] ?? '',
            arguments: e.Config.Cmd.slice(1),
            privileged: false,
            user: e.Config.User ?? '',
          },
          OpenStdin: e.Config.AttachStdin ?? false,
          OpenStdout: e.Config.AttachStdout ?? false,
          OpenStderr: e.Config.AttachStderr ?? false,
          CanRemove: false,
          ContainerID: e.ContainerID,
          DetachKeys: '',
          Pid: e.Pid,
        });
      },
    },
    {
      method: 'POST',
      path: '/containers/:id/attach',
      handler: (ctx) => attachHandler(runtime, ctx),
    },
    {
      method: 'POST',
      path: '/containers/:id/resize',
      handler: (ctx) => {
        parseConsoleSize(ctx.query);
        const rec = runtime.get(ctx.params.id ?? '');
        if (rec.State.Status !== 'running') throw conflict(`Container ${rec.Id} is not running`);
        // Containers here never have a terminal (Config.Tty is false): nothing to resize, and
        // Docker's containerd answers the same for a process without a console.
        sendNoContent(ctx.res, 200);
      },
    },
  ];
}

/**
 * POST /exec/:id/start. Detached: 200 at once. Otherwise the connection is taken over (`hijack`).
 * With a Tty the stream is raw; without, frames carry the stream id. The framing follows the
 * start request and the terminal the create request, as in Docker.
 */
async function execStartHandler(runtime: ContainerRuntime, ctx: RouteContext): Promise<void> {
  const inst = runtime.getExec(ctx.params.id ?? '');
  const body = parse(execStartSchema, await ctx.json());
  if (body?.ConsoleSize && !inst.Running && inst.ExitCode === null) {
    await runtime.resizeExec(inst.ID, body.ConsoleSize);
  }
  if (body?.Detach) {
    void (await runtime.startExec(inst.ID, { detach: true })).exit;
    sendJSON(ctx.res, 200, {});
    return;
  }
  const raw = body?.Tty ?? inst.Config.Tty ?? false;
  const proc = await runtime.startExec(inst.ID);
  const { out, input } = hijack(ctx, raw ? RAW_STREAM : streamContentType(ctx.apiVersion));
  const hangUp = () => {
    if (inst.Running) runtime.hangUpExec(inst.ID).catch((err) => log.warn('exec hang-up failed', { err }));
  };
  out.on('close', hangUp);
  const stdin = proc.stdin;
  if (input && stdin) {
    input.pipe(stdin, { end: false });
    // A terminal's input closing is a hang-up (Docker closes the pty); a pipe's is an EOF.
    input.on('end', () => (inst.Config.Tty ? hangUp() : stdin.end()));
  } else {
    input?.resume();
    if (!inst.Config.Tty) stdin?.end();
  }
  const pump = (r: Readable | null, stream: 'stdout' | 'stderr') =>
    new Promise<void>((resolve) => {
      if (!r) return resolve();
      r.on('data', (b: Buffer) => out.write(raw ? b : frame(stream, b)));
      r.on('end', resolve);
      r.on('error', () => resolve());
    });
  await Promise.all([pump(proc.stdout, 'stdout'), pump(proc.stderr, 'stderr'), proc.exit]);
  out.end();
}

/**
 * POST /containers/:id/attach: the container's output, framed (its containers have no terminal),
 * from its log: `logs` replays what it wrote so far, `stream` follows until it exits. Containers
 * here never keep stdin open (Config.OpenStdin is false), so input is read and dropped, as Docker
 * drops it for such a container.
 */
async function attachHandler(runtime: ContainerRuntime, ctx: RouteContext): Promise<void> {
  const rec = runtime.get(ctx.params.id ?? '');
  const stdout = boolParam(ctx.query, 'stdout');
  const stderr = boolParam(ctx.query, 'stderr');
  const logs = boolParam(ctx.query, 'logs');
  const follow = boolParam(ctx.query, 'stream');
  boolParam(ctx.query, 'stdin');
  const { out, input } = hijack(ctx, streamContentType(ctx.apiVersion));
  input?.resume();
  const abort = new AbortController();
  out.on('close', () => abort.abort());
  if (logs || follow) {
    const entries = runtime.logs(rec.Id, {
      follow,
      stdout,
      stderr,
      ...(logs ? {} : { tail: 0 }),
      signal: abort.signal,
    });
    for await (const e of entries) {
      if (abort.signal.aborted) break;
      out.write(frame(e.stream, Buffer.from(e.line)));
    }
  }
  out.end();
}

/**
 * Takes the connection over for a stream. The docker CLI asks to upgrade (`Connection: Upgrade`,
 * `Upgrade: tcp`) and needs `101 UPGRADED`; the stream is then written straight onto the socket
 * and the socket's further bytes are the input, as Docker's hijack does. Without the upgrade
 * headers: a plain 200 stream and no input.
 */
function hijack(ctx: RouteContext, contentType: string): { out: Writable; input?: Socket } {
  const upgrade = /upgrade/i.test(ctx.req.headers.connection ?? '') && (ctx.req.headers.upgrade ?? '') !== '';
  if (!upgrade) {
    ctx.res.writeHead(200, { 'Content-Type': contentType });
    ctx.res.flushHeaders();
    return { out: ctx.res };
  }
  const sock = ctx.req.socket;
  detachHttpParser(sock);
  sock.write(
    `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
  );
  return { out: sock, input: sock };
}

/**
 * Takes a request's socket away from Node's HTTP parser so later bytes (the exec's stdin) reach us
 * instead of being parsed as a new request. Node does the same on its own 'upgrade' path; the server
 * here has no upgrade listener, so hijacking happens inside the request handler.
 */
function detachHttpParser(sock: Socket): void {
  const parser: unknown = Reflect.get(sock, 'parser');
  if (
    typeof parser === 'object' &&
    parser !== null &&
    'unconsume' in parser &&
    typeof parser.unconsume === 'function'
  ) {
    parser.unconsume();
  }
  // The CLI half-closes its side once stdin is done (or at once without stdin): the server's own
  // 'end' handler would then end our side too and cut the output short.
  for (const ev of ['data', 'end', 'timeout', 'drain', 'error']) sock.removeAllListeners(ev);
  sock.on('error', () => sock.destroy());
  sock.setTimeout(0);
}
