// swarmd entry point: parse flags, run the daemon, stop cleanly on SIGTERM/SIGINT.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { SwarmError } from '../api/errors.js';
import { useSpawnHelper } from '../lib/exec.js';
import { log, setLogLevel } from '../lib/log.js';
import { cgroupProblem } from './cgroups.js';
import { Daemon } from './daemon.js';
import { parseFlags, USAGE } from './flags.js';

async function main(): Promise<void> {
  let flags: ReturnType<typeof parseFlags>;
  try {
    flags = parseFlags(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`swarmd: ${(e as Error).message}\n`);
    process.exit(125);
  }
  if (flags === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const cgroups = cgroupProblem(readFileSync('/proc/self/mountinfo', 'utf8'));
  if (cgroups) {
    process.stderr.write(`swarmd: ${cgroups}\n`);
    process.exit(1);
  }
  setLogLevel(flags.logLevel);
  useSpawnHelper(process.env.SWARMD_SPAWN_HELPER !== '0');
  const daemon = new Daemon(flags);
  if (flags.cleanup) {
    try {
      await daemon.cleanup(flags.force);
      process.stdout.write(`removed every trace of the node in ${flags.stateDir}\n`);
      process.exit(0);
    } catch (e) {
      process.stderr.write(`swarmd: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    }
  }
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    await daemon.stop().catch((e) => log.error('shutdown failed', { err: e }));
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  try {
    await daemon.start();
  } catch (e) {
    const msg = e instanceof SwarmError ? e.message : ((e as Error).stack ?? String(e));
    log.error('swarmd failed to start', { error: msg });
    process.stderr.write(`swarmd: ${e instanceof Error ? e.message : String(e)}\n`);
    await daemon.stop().catch(() => undefined);
    process.exit(1);
  }
}

await main();
