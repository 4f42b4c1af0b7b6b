// The node's swarm membership on disk (<stateDir>/swarm.json): who this node is and how it joined.
// Written atomically when the node inits or joins, removed when it leaves; read and validated at start.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { SwarmError } from '../api/errors.js';
import { writeFileAtomic } from '../ca/store.js';

export const SwarmStateSchema = z.object({
  nodeId: z.string().min(1),
  clusterId: z.string().min(1),
  role: z.enum(['manager', 'worker']),
  /** "ip:port" other nodes reach this node's remote API on. */
  advertiseAddr: z.string().min(1),
  listenAddr: z.string().min(1),
  createdAt: z.string(),
  /** Workers: the managers' remote API addresses ("ip:port") it joined through / learned. */
  remoteManagers: z.array(z.string().min(1)).optional(),
});
export type SwarmState = z.infer<typeof SwarmStateSchema>;

const file = (stateDir: string) => join(stateDir, 'swarm.json');

export async function readSwarmState(stateDir: string): Promise<SwarmState | undefined> {
  let text: string;
  try {
    text = await readFile(file(stateDir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return SwarmStateSchema.parse(JSON.parse(text));
  } catch (e) {
    throw new SwarmError(
      'INTERNAL',
      `${file(stateDir)} is corrupt (${(e as Error).message}); move it away to start outside the swarm`,
      {
        cause: e,
      },
    );
  }
}

export async function writeSwarmState(stateDir: string, s: SwarmState): Promise<void> {
  await writeFileAtomic(file(stateDir), `${JSON.stringify(s, null, 2)}\n`, 0o600);
}

export async function removeSwarmState(stateDir: string): Promise<void> {
  await rm(file(stateDir), { force: true });
}
