// Makes TCP ports of this host's loopback reachable at the same address (127.0.0.1:<port>) inside
// another network namespace, e.g. a swarmd's that has only its own `lo`: a registry and its token
// server started here can then be used by that swarmd. Each connection crosses through a unix
// socket (unix sockets are not network-namespaced): a small node process inside the namespace
// listens on the port and connects to the socket; this process connects the socket to the port.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LoopbackBridge {
  close(): Promise<void>;
}

/** Joins two sockets both ways; either side ending or failing closes both. */
function splice(a: Socket, b: Socket): void {
  a.pipe(b).pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
}

/** The side inside the namespace (this file run as a script): listens on the ports, prints "ready". */
async function listenInside(dir: string, ports: number[]): Promise<void> {
  for (const port of ports) {
    const server = createServer((c) => splice(c, createConnection(join(dir, `${port}.sock`))));
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
  }
  process.stdout.write('ready\n');
}

const self = fileURLToPath(import.meta.url);
if (process.argv[1] === self) await listenInside(process.argv[2] ?? '', process.argv.slice(3).map(Number));

export async function bridgeLoopback(netns: string, ports: readonly number[]): Promise<LoopbackBridge> {
  const dir = await mkdtemp(join(tmpdir(), 'skt-loopback-'));
  const servers: Server[] = [];
  let child: ChildProcess | undefined;
  const close = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    for (const s of servers) {
      s.close();
      await once(s, 'close').catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const server = createServer((c) => splice(c, createConnection(port, '127.0.0.1')));
      servers.push(server);
      server.listen(join(dir, `${port}.sock`));
      await once(server, 'listening');
    }
    const inside = spawn(
      'nsenter',
      [`--net=/run/netns/${netns}`, process.execPath, self, dir, ...ports.map(String)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = inside;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      inside.stdout?.on('data', (b: Buffer) => {
        output += b.toString();
        if (output.includes('ready\n')) resolve();
      });
      inside.stderr?.on('data', (b: Buffer) => (output += b.toString()));
      inside.once('exit', (code) => reject(new Error(`loopback bridge exited (${code}): ${output}`)));
      setTimeout(() => reject(new Error(`loopback bridge not ready after 10 s: ${output}`)), 10_000).unref();
    });
  } catch (e) {
    await close();
    throw e;
  }
  return { close };
}
