// A tiny fake Engine API on a temporary unix socket for swarmctl tests: answers the calls the
// docker CLI and swarmctl make for service commands with recorded fixture documents, and records
// every request (method, path, query, body) so tests can compare what was sent.

import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: string;
  headers: http.IncomingHttpHeaders;
}

export type Handler = (req: RecordedRequest) => { status: number; body?: unknown } | undefined;

export interface FakeEngine {
  socketPath: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startFakeEngine(handler: Handler): Promise<FakeEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'swarmctl-test-'));
  const socketPath = join(dir, 'engine.sock');
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://docker');
      const rec: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname.replace(/^\/v1\.\d+/, ''),
        query: url.searchParams,
        body: Buffer.concat(chunks).toString('utf8'),
        headers: req.headers,
      };
      requests.push(rec);
      res.setHeader('Api-Version', '1.41');
      if (rec.path === '/_ping') {
        res.end(req.method === 'HEAD' ? undefined : 'OK');
        return;
      }
      const answer = handler(rec) ?? { status: 404, body: { message: `no route ${rec.method} ${rec.path}` } };
      res.statusCode = answer.status;
      if (answer.body === undefined) {
        res.end();
        return;
      }
      res.setHeader('Content-Type', 'application/json');
      res.end(`${JSON.stringify(answer.body)}\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs swarmctl in-process and captures its output. */
export async function runSwarmctl(
  argv: string[],
  opts: {
    isTTY?: boolean;
    now?: () => number;
    interrupt?: AbortSignal;
    env?: Record<string, string | undefined>;
  } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { runCli } = await import('../../src/cli/cli.js');
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    env: opts.env ?? {},
    isTTY: opts.isTTY ?? false,
    now: opts.now ?? (() => Date.now()),
    interrupt: opts.interrupt ?? new AbortController().signal,
  });
  return { code, stdout, stderr };
}
