// IP address management for the gateway network: a pure allocator plus its persisted record of
// which container holds which address (so a restarted swarmd never hands out an address twice).
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { SwarmError } from '../api/errors.js';
import { intToIp, ipToInt, type Subnet } from './ipv4.js';

/**
 * The next free host address after `after` (wrapping around), skipping the network, gateway and
 * broadcast addresses. Allocating *after* the last one, as Docker does, delays re-use of a just
 * released address, so stale ARP and conntrack entries of a dead task do not hit its successor.
 * Returns null when the subnet is full.
 */
export function nextFreeAddress(subnet: Subnet, used: ReadonlySet<string>, after?: string): string | null {
  const first = subnet.gateway + 1;
  const last = subnet.broadcast - 1;
  const count = last - first + 1;
  let start = first;
  if (after !== undefined) {
    const a = ipToInt(after);
    if (a >= first && a <= last) start = a === last ? first : a + 1;
  }
  for (let i = 0; i < count; i++) {
    const candidate = first + ((start - first + i) % count);
    const ip = intToIp(candidate);
    if (!used.has(ip)) return ip;
  }
  return null;
}

/** What the node knows about one attached container; everything needed to undo the attachment. */
export const attachmentRecordSchema = z.object({
  ip: z.string(),
  netns: z.string(),
  hostVeth: z.string(),
  hostname: z.string(),
});
export type AttachmentRecord = z.infer<typeof attachmentRecordSchema>;

export const ipamStateSchema = z.object({
  version: z.literal(1),
  subnet: z.string(),
  last: z.string().optional(),
  attachments: z.record(z.string(), attachmentRecordSchema),
});
export type IpamState = z.infer<typeof ipamStateSchema>;

export function emptyIpamState(subnet: Subnet): IpamState {
  return { version: 1, subnet: subnet.cidr, attachments: {} };
}

/** Reads the allocation file; a missing file is an empty state, a subnet change with holders is refused. */
export async function loadIpamState(file: string, subnet: Subnet): Promise<IpamState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyIpamState(subnet);
    throw e;
  }
  const parsed = ipamStateSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new SwarmError('INTERNAL', `corrupt IPAM state ${file}: ${parsed.error.message}`);
  }
  const state = parsed.data;
  if (state.subnet !== subnet.cidr) {
    if (Object.keys(state.attachments).length > 0) {
      throw new SwarmError(
        'FAILED_PRECONDITION',
        `gateway subnet changed from ${state.subnet} to ${subnet.cidr} while containers are attached`,
      );
    }
    return emptyIpamState(subnet);
  }
  return state;
}

/** Write-then-rename, so a crash leaves either the old or the new file, never half of one. */
export async function saveIpamState(file: string, state: IpamState): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}
