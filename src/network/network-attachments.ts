// A task's overlay networks, read from Docker's `Task.NetworksAttachments` (the manager allocated
// the VNI and the task's address): what this node must build and plug the task into.
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { invalidArgument } from '../api/errors.js';
import { MTU_OPTION } from '../api/types.js';
import { intToIp, parseSubnet } from './ipv4.js';
import { checkNetworkId } from './names.js';

/** Docker's option carrying an overlay network's VXLAN IDs ("4097", or "4097,4098" for several subnets). */
const VXLAN_ID_OPTION = 'com.docker.network.driver.overlay.vxlanid_list';

const MAX_VNI = 2 ** 24 - 1;

/** Without Docker's MTU option an overlay has 1500 less VXLAN's 50 bytes. */
export const DEFAULT_OVERLAY_MTU = 1450;

/** The fields of one `NetworkAttachment` this module reads (others are ignored). */
const networkAttachmentSchema = z.object({
  Network: z.object({
    ID: z.string(),
    Spec: z.object({ Name: z.string(), Internal: z.boolean().nullish() }),
    DriverState: z.object({
      Name: z.string(),
      Options: z.record(z.string(), z.string()).nullish(),
    }),
    IPAMOptions: z
      .object({
        Configs: z.array(z.object({ Subnet: z.string().nullish(), Gateway: z.string().nullish() })).nullish(),
      })
      .nullish(),
  }),
  Addresses: z.array(z.string()).nullish(),
});

const taskNetworksSchema = z.object({ NetworksAttachments: z.array(networkAttachmentSchema).nullish() });

/** One overlay network a task is attached to, as this node needs it. */
export const overlayNetworkRequestSchema = z.object({
  networkId: z.string(),
  /** The network's name: the key of `NetworkSettings.Networks` in `docker inspect`. */
  name: z.string(),
  vni: z.number().int().min(1).max(MAX_VNI),
  /** The network's gateway address: it fixes the bridge's MAC (02:42 + address). */
  gateway: z.string().ip({ version: 'v4' }),
  /** The task's address on the network. */
  ip: z.string().ip({ version: 'v4' }),
  prefixLength: z.number().int().min(8).max(30),
  /** `--internal`: the network has no way out of the swarm. */
  internal: z.boolean().default(false),
  /** The MTU of the network's devices and task interfaces. */
  mtu: z.number().int().min(576).max(8950).default(DEFAULT_OVERLAY_MTU),
});
export type OverlayNetworkRequest = z.infer<typeof overlayNetworkRequestSchema>;

/**
 * The overlay networks of a task, in the order of its NetworksAttachments (which is the order of
 * its interfaces eth1, eth2, …). A task without attachments has none. An attachment this node
 * cannot build (another driver, no VXLAN ID, no IPv4 address) is refused rather than skipped: a
 * task silently missing a network would fail in ways much harder to trace.
 */
export function overlayNetworksOf(task: unknown): OverlayNetworkRequest[] {
  const parsed = taskNetworksSchema.safeParse(task ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidArgument(`invalid network attachment: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return (parsed.data.NetworksAttachments ?? []).map((a) => {
    const { ID, Spec, DriverState, IPAMOptions } = a.Network;
    checkNetworkId(ID);
    if (DriverState.Name !== 'overlay') {
      throw invalidArgument(
        `network ${Spec.Name}: driver ${JSON.stringify(DriverState.Name)} is not supported`,
      );
    }
    const vni = Number((DriverState.Options?.[VXLAN_ID_OPTION] ?? '').split(',')[0]);
    if (!Number.isInteger(vni) || vni < 1 || vni > MAX_VNI) {
      throw invalidArgument(`network ${Spec.Name}: no valid VXLAN ID in ${VXLAN_ID_OPTION}`);
    }
    const address = (a.Addresses ?? []).find((x) => isIPv4(x.split('/')[0] ?? ''));
    if (address === undefined) throw invalidArgument(`network ${Spec.Name}: the task has no IPv4 address`);
    const subnet = parseSubnet(address);
    const ip = address.split('/')[0] ?? '';
    const config = (IPAMOptions?.Configs ?? []).find(
      (c) => isIPv4(c.Subnet?.split('/')[0] ?? '') && parseSubnet(c.Subnet ?? '').cidr === subnet.cidr,
    );
    const gateway = config?.Gateway || intToIp(subnet.gateway);
    if (!isIPv4(gateway)) throw invalidArgument(`network ${Spec.Name}: invalid gateway ${gateway}`);
    const mtuOption = DriverState.Options?.[MTU_OPTION];
    const mtu = mtuOption === undefined || mtuOption === '' ? DEFAULT_OVERLAY_MTU : Number(mtuOption);
    if (!Number.isInteger(mtu) || mtu < 576 || mtu > 8950) {
      throw invalidArgument(`network ${Spec.Name}: invalid ${MTU_OPTION} ${JSON.stringify(mtuOption)}`);
    }
    return {
      networkId: ID,
      name: Spec.Name,
      vni,
      gateway,
      ip,
      prefixLength: subnet.prefixLength,
      internal: Spec.Internal === true,
      mtu,
    };
  });
}
