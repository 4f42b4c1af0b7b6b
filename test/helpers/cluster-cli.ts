// `make cluster` / `make cluster-down`: a cluster in a box (cluster.ts) that outlives the command.
//   node dist/test/helpers/cluster-cli.js up [--workers N] [--no-join]   starts it, writes STATE_FILE
//   node dist/test/helpers/cluster-cli.js down [--record JSON]           removes it (STATE_FILE's, or the given one)
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Cluster, parseClusterRecord, startCluster, teardownCluster } from './cluster.js';

const STATE_FILE = '/run/skt-cluster/cluster.json';
const swarmctl = new URL('../../../bin/swarmctl', import.meta.url).pathname;

function usage(): never {
  console.error('usage: cluster-cli up [--workers N] [--no-join] | down [--record JSON]');
  process.exit(2);
}

function describe(c: Cluster, joined: boolean): string {
  const lines = [
    `cluster ${c.id}: ${c.hosts.length} hosts on ${c.record().subnet}, switch netns ${c.switchNetns}` +
      (joined ? ', workers joined' : ', workers not joined'),
    '',
  ];
  for (const h of c.hosts) {
    lines.push(
      `${h.name} (${h.role})  ip ${h.ip}  netns ${h.netns}`,
      `  docker:   DOCKER_HOST=unix://${h.socket} docker node ls`,
      `  swarmctl: ${swarmctl} --socket ${h.socket} node ls`,
      `  shell:    nsenter --net=/run/netns/${h.netns} bash`,
      `  logs:     ${h.stateDir}/swarmd.log`,
      '',
    );
  }
  lines.push(`state: ${STATE_FILE}; remove everything with: make cluster-down`);
  return lines.join('\n');
}

async function up(args: string[]): Promise<void> {
  let workers = 2;
  let join = true;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--workers') workers = Number(args[++i]);
    else if (args[i] === '--no-join') join = false;
    else usage();
  }
  if (!Number.isInteger(workers) || workers < 0 || workers > 20) usage();
  if (existsSync(STATE_FILE)) {
    console.error(`a cluster is already up (${STATE_FILE}); run make cluster-down first`);
    process.exit(1);
  }
  let cluster: Cluster;
  try {
    cluster = await startCluster({ workers, join });
  } catch (e) {
    // startCluster has already removed what it made.
    console.error(`cluster: ${e instanceof Error ? e.message : String(e)}`);
    if (join) console.error('(JOIN=0 make cluster starts the hosts and inits the manager without joining)');
    process.exit(1);
  }
  mkdirSync(dirname(STATE_FILE), { recursive: true });
  writeFileSync(STATE_FILE, `${JSON.stringify(cluster.disown(), null, 2)}\n`);
  console.log(describe(cluster, join));
  // The swarmds run in sessions of their own and write to files: they stay when we exit.
  process.exit(0);
}

async function down(args: string[]): Promise<void> {
  if (args[0] === '--record' && args[1] !== undefined) {
    await teardownCluster(parseClusterRecord(args[1]));
    return;
  }
  if (args.length > 0) usage();
  if (!existsSync(STATE_FILE)) {
    console.log('no cluster is up');
    return;
  }
  const record = parseClusterRecord(readFileSync(STATE_FILE, 'utf8'));
  await teardownCluster(record);
  rmSync(STATE_FILE);
  console.log(`cluster ${record.id} removed`);
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'up') await up(rest);
else if (command === 'down') await down(rest);
else usage();
