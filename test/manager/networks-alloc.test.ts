// Network allocation (pure): subnets from the cluster's default address pool that overlap no other
// network's, user-given subnets, gateways and ranges checked with clear errors, VXLAN IDs from
// 4096 up and unique, and swarm init's pool settings validated as Docker does.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SwarmError } from '../../src/api/errors.js';
import { type Network, VXLANID_LIST_OPTION } from '../../src/api/types.js';
import {
  type AddressPool,
  allocateNetwork,
  allocateSubnets,
  allocateVnis,
  validateAddressPool,
  vnisOf,
} from '../../src/manager/allocator/networks.js';

const POOL: AddressPool = { DefaultAddrPool: ['10.0.0.0/8'], SubnetSize: 24 };

let counter = 0;
function net(name: string, subnets: string[], vnis: number[] = []): Network {
  return {
    ID: `net${++counter}`,
    Version: { Index: 1 },
    CreatedAt: '2030-01-01T00:00:00.000Z',
    UpdatedAt: '2030-01-01T00:00:00.000Z',
    Name: name,
    Scope: 'swarm',
    Driver: 'overlay',
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: subnets.map((Subnet) => ({ Subnet })) },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Options: vnis.length > 0 ? { [VXLANID_LIST_OPTION]: vnis.join(',') } : {},
    Labels: {},
  };
}

/** Asserts `fn` throws a SwarmError with this code whose message matches. */
function refuses(fn: () => unknown, code: SwarmError['code'], message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SwarmError, `a SwarmError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

describe('subnets from the default address pool', () => {
  it('the first network takes the first subnet of the pool, its gateway the first host address', () => {
    assert.deepEqual(allocateSubnets([], POOL, []), [{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }]);
  });

  it('with ingress on 10.0.0.0/24 the next network gets 10.0.1.0/24', () => {
    const ingress = net('ingress', ['10.0.0.0/24'], [4096]);
    assert.deepEqual(allocateSubnets([], POOL, [ingress]), [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }]);
  });

  it('skips every subnet another network overlaps, user-given ones of any size included', () => {
    const existing = [
      net('ingress', ['10.0.0.0/24']),
      net('a', ['10.0.1.0/24']),
      net('big', ['10.0.2.0/23']),
      net('tiny', ['10.0.4.200/30']),
    ];
    assert.equal(allocateSubnets([], POOL, existing)[0]?.Subnet, '10.0.5.0/24');
    const wide = [net('wide', ['10.0.0.0/16'])];
    assert.equal(allocateSubnets([], POOL, wide)[0]?.Subnet, '10.1.0.0/24');
  });

  it('uses the cluster subnet size', () => {
    const pool = { DefaultAddrPool: ['10.20.0.0/16'], SubnetSize: 26 };
    const first = net('first', ['10.20.0.0/26']);
    assert.deepEqual(allocateSubnets([], pool, [first]), [
      { Subnet: '10.20.0.64/26', Gateway: '10.20.0.65' },
    ]);
  });

  it('moves on to the next pool when one is full, and says so when all are', () => {
    const pool = { DefaultAddrPool: ['192.168.7.0/24', '172.30.0.0/16'], SubnetSize: 24 };
    const full = net('full', ['192.168.7.0/24']);
    assert.equal(allocateSubnets([], pool, [full])[0]?.Subnet, '172.30.0.0/24');
    const small = { DefaultAddrPool: ['192.168.7.0/24'], SubnetSize: 24 };
    refuses(
      () => allocateSubnets([], small, [full]),
      'FAILED_PRECONDITION',
      /could not find an available, non-overlapping IPv4 address pool/,
    );
  });

  it('never hands out overlapping subnets or a VNI twice, whatever networks exist', () => {
    const subnet = fc
      .tuple(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 16, max: 28 }),
      )
      .map(([b, c, len]) => `10.${b}.${c}.0/${len}`);
    fc.assert(
      fc.property(fc.array(subnet, { maxLength: 6 }), fc.integer({ min: 1, max: 8 }), (given, more) => {
        const existing: Network[] = [];
        for (const s of given) {
          try {
            const a = allocateNetwork({ configs: [{ Subnet: s }], options: {} }, POOL, existing);
            existing.push(
              net(
                `u${existing.length}`,
                a.Config.map((c) => c.Subnet),
                [Number(a.Options[VXLANID_LIST_OPTION])],
              ),
            );
          } catch (e) {
            assert.ok(e instanceof SwarmError && /overlaps/.test(e.message), String(e));
          }
        }
        for (let i = 0; i < more; i++) {
          const a = allocateNetwork({ configs: [], options: {} }, POOL, existing);
          existing.push(
            net(
              `n${i}`,
              a.Config.map((c) => c.Subnet),
              [Number(a.Options[VXLANID_LIST_OPTION])],
            ),
          );
        }
        const ranges = existing.map((n) => {
          const [ip = '', len = ''] = n.IPAM.Config[0]?.Subnet.split('/') ?? [];
          const start = ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
          return [start, start + 2 ** (32 - Number(len)) - 1] as const;
        });
        for (const [i, a] of ranges.entries())
          for (const b of ranges.slice(i + 1)) assert.ok(a[1] < b[0] || b[1] < a[0], 'subnets overlap');
        const vnis = existing.flatMap(vnisOf);
        assert.equal(new Set(vnis).size, vnis.length);
      }),
      { numRuns: 150 },
    );
  });
});

describe('user-given subnets, gateways and ranges', () => {
  it('keeps a valid configuration, defaulting the gateway to the first host address', () => {
    assert.deepEqual(allocateSubnets([{ Subnet: '192.168.50.0/24' }], POOL, []), [
      { Subnet: '192.168.50.0/24', Gateway: '192.168.50.1' },
    ]);
    assert.deepEqual(
      allocateSubnets([{ Subnet: '10.9.0.0/16', Gateway: '10.9.255.254', IPRange: '10.9.8.0/21' }], POOL, []),
      [{ Subnet: '10.9.0.0/16', Gateway: '10.9.255.254', IPRange: '10.9.8.0/21' }],
    );
  });

  it('a subnet written with host bits is stored as its network address', () => {
    assert.equal(allocateSubnets([{ Subnet: '10.9.3.7/16' }], POOL, [])[0]?.Subnet, '10.9.0.0/16');
  });

  it('refuses a gateway outside the subnet, or on its network or broadcast address', () => {
    refuses(
      () => allocateSubnets([{ Subnet: '10.9.0.0/24', Gateway: '10.9.1.1' }], POOL, []),
      'INVALID_ARGUMENT',
      /^rpc error: code = InvalidArgument desc = ipam configuration: subnet 10\.9\.0\.0\/24 does not contain gateway 10\.9\.1\.1$/,
    );
    refuses(
      () => allocateSubnets([{ Subnet: '10.9.0.0/24', Gateway: '10.9.0.255' }], POOL, []),
      'INVALID_ARGUMENT',
      /gateway 10\.9\.0\.255 is the network or broadcast address of subnet 10\.9\.0\.0\/24/,
    );
    refuses(
      () => allocateSubnets([{ Subnet: '10.9.0.0/24', Gateway: 'nope' }], POOL, []),
      'INVALID_ARGUMENT',
      /ipam configuration: invalid gateway nope/,
    );
  });

  it('refuses an invalid, IPv6 or too small subnet and a range outside the subnet', () => {
    refuses(
      () => allocateSubnets([{ Subnet: '10.9.0.0/33' }], POOL, []),
      'INVALID_ARGUMENT',
      /invalid subnet 10\.9\.0\.0\/33/,
    );
    refuses(
      () => allocateSubnets([{ Gateway: '10.0.0.1' }], POOL, []),
      'INVALID_ARGUMENT',
      /invalid subnet $/,
    );
    refuses(
      () => allocateSubnets([{ Subnet: 'fd00::/64' }], POOL, []),
      'INVALID_ARGUMENT',
      /IPv6 subnet fd00::\/64 is not supported/,
    );
    refuses(() => allocateSubnets([{ Subnet: '10.9.0.0/31' }], POOL, []), 'INVALID_ARGUMENT', /too small/);
    refuses(
      () => allocateSubnets([{ Subnet: '10.9.0.0/24', IPRange: '10.9.0.0/23' }], POOL, []),
      'INVALID_ARGUMENT',
      /subnet 10\.9\.0\.0\/24 does not contain range 10\.9\.0\.0\/23/,
    );
    refuses(
      () => allocateSubnets([{ Subnet: '10.9.0.0/24', IPRange: 'x' }], POOL, []),
      'INVALID_ARGUMENT',
      /invalid range x/,
    );
  });

  it('refuses a subnet overlapping another network or another subnet of the same request', () => {
    const skynet = net('skynet', ['10.0.1.0/24']);
    refuses(
      () => allocateSubnets([{ Subnet: '10.0.0.0/16' }], POOL, [skynet]),
      'INVALID_ARGUMENT',
      /subnet 10\.0\.0\.0\/16 overlaps with subnet 10\.0\.1\.0\/24 of network skynet/,
    );
    refuses(
      () => allocateSubnets([{ Subnet: '10.7.0.0/16' }, { Subnet: '10.7.3.0/24' }], POOL, []),
      'INVALID_ARGUMENT',
      /subnets 10\.7\.0\.0\/16 and 10\.7\.3\.0\/24 overlap/,
    );
  });
});

describe('VXLAN IDs', () => {
  it('start at 4096 (ingress at swarm init) and the first user network gets 4097', () => {
    assert.deepEqual(allocateVnis(1, undefined, []), [4096]);
    assert.deepEqual(allocateVnis(1, undefined, [net('ingress', ['10.0.0.0/24'], [4096])]), [4097]);
  });

  it('take the lowest free ones, one per subnet', () => {
    const existing = [net('a', [], [4096]), net('b', [], [4097, 4099])];
    assert.deepEqual(allocateVnis(2, undefined, existing), [4098, 4100]);
    const a = allocateNetwork(
      { configs: [{ Subnet: '10.8.0.0/24' }, { Subnet: '10.8.1.0/24' }], options: {} },
      POOL,
      existing,
    );
    assert.equal(a.Options[VXLANID_LIST_OPTION], '4098,4100');
  });

  it('honour a free user-given vxlanid_list and refuse one in use or out of range', () => {
    const existing = [net('a', [], [4096])];
    assert.deepEqual(allocateVnis(2, '5000', existing), [5000, 4097]);
    refuses(() => allocateVnis(1, '4096', existing), 'INVALID_ARGUMENT', /VXLAN ID 4096 is already in use/);
    refuses(() => allocateVnis(1, '16777216', existing), 'INVALID_ARGUMENT', /between 1 and 16777215/);
    refuses(
      () => allocateVnis(1, '5000,5001', existing),
      'INVALID_ARGUMENT',
      /lists 2 VXLAN IDs for 1 subnet/,
    );
  });

  it('keep the other driver options as given', () => {
    const a = allocateNetwork({ configs: [], options: { encrypted: '' } }, POOL, []);
    assert.deepEqual(a.Options, { encrypted: '', [VXLANID_LIST_OPTION]: '4096' });
  });
});

describe('swarm init address pool settings', () => {
  it('accepts the defaults and a custom pool', () => {
    validateAddressPool(['10.0.0.0/8'], 24);
    validateAddressPool(['10.20.0.0/16', '192.168.0.0/20'], 26);
  });

  it("refuses what Docker's validateDefaultAddrPool refuses, in its words", () => {
    refuses(
      () => validateAddressPool(['10.0.0.0/8'], 30),
      'INVALID_ARGUMENT',
      /^subnet size is out of range: 30$/,
    );
    refuses(
      () => validateAddressPool(['10.0.0.0/16'], 8),
      'INVALID_ARGUMENT',
      /^invalid CIDR: "10\.0\.0\.0\/16"\. Subnet size is too small for pool: 8$/,
    );
    refuses(() => validateAddressPool(['banana'], 24), 'INVALID_ARGUMENT', /^invalid base pool banana/);
  });
});
