import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CommandSpec, parseCommandLine, UsageError } from '../../src/cli/args.js';

const root: CommandSpec = {
  name: 'swarmctl',
  usage: '[OPTIONS] COMMAND',
  description: 'root',
  flags: [{ name: 'host', short: 'H', kind: 'string', description: 'h' }],
  subcommands: [
    {
      name: 'service',
      usage: 'COMMAND',
      description: 'Manage services',
      subcommands: [
        {
          name: 'create',
          usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
          description: 'Create a new service',
          stopAtFirstArg: true,
          args: { min: 1 },
          flags: [
            { name: 'detach', short: 'd', kind: 'bool', description: '' },
            { name: 'quiet', short: 'q', kind: 'bool', description: '' },
            { name: 'env', short: 'e', kind: 'list', description: '' },
            { name: 'publish', short: 'p', kind: 'list', description: '' },
            { name: 'replicas', kind: 'uint', description: '' },
            { name: 'update-delay', kind: 'duration', description: '' },
            { name: 'name', kind: 'string', description: '' },
          ],
          run: async () => 0,
        },
        {
          name: 'ls',
          aliases: ['list'],
          usage: '[OPTIONS]',
          description: 'List services',
          args: { max: 0 },
          run: async () => 0,
        },
      ],
    },
  ],
};

const parse = (argv: string[]) => parseCommandLine(root, argv).result.invocation;

test('flags take values as --f v, --f=v, -f v, -fv; lists repeat; shorts group', () => {
  const inv = parse([
    '-H',
    'unix:///x',
    'service',
    'create',
    '-dq',
    '--name=web',
    '-e',
    'A=1',
    '-eB=2',
    '-p8080:80',
    '--replicas',
    '3',
    'bb:1',
  ]);
  assert.deepEqual(inv.path, ['service', 'create']);
  assert.equal(inv.flags.bool('detach'), true);
  assert.equal(inv.flags.bool('quiet'), true);
  assert.equal(inv.flags.string('name'), 'web');
  assert.deepEqual(inv.flags.list('env'), ['A=1', 'B=2']);
  assert.deepEqual(inv.flags.list('publish'), ['8080:80']);
  assert.equal(inv.flags.number('replicas'), 3);
  assert.deepEqual(inv.args, ['bb:1']);
});

test('flags after the image belong to the service command', () => {
  const inv = parse(['service', 'create', '--name', 'web', 'bb:1', 'httpd', '-f', '-p', '80']);
  assert.deepEqual(inv.args, ['bb:1', 'httpd', '-f', '-p', '80']);
  assert.deepEqual(inv.flags.list('publish'), []);
});

test('durations are checked and converted to nanoseconds', () => {
  assert.equal(
    parse(['service', 'create', '--update-delay', '1m30s', 'x']).flags.duration('update-delay'),
    90e9,
  );
  assert.throws(
    () => parse(['service', 'create', '--update-delay', '5', 'x']),
    (e: unknown) =>
      e instanceof UsageError &&
      e.exitCode === 125 &&
      e.message === 'invalid argument "5" for "--update-delay" flag: time: missing unit in duration "5"',
  );
});

test('unknown flags and missing values are usage errors with exit 125', () => {
  assert.throws(() => parse(['service', 'create', '--bogus', 'x']), {
    message: 'unknown flag: --bogus',
    exitCode: 125,
  });
  assert.throws(() => parse(['service', 'create', '--name']), { message: 'flag needs an argument: --name' });
  assert.throws(() => parse(['service', 'create', '-z', 'x']), {
    message: "unknown shorthand flag: 'z' in -z",
  });
});

test('wrong argument counts use docker wording with exit 1', () => {
  assert.throws(() => parse(['service', 'create']), {
    message: '"swarmctl service create" requires at least 1 argument.',
    exitCode: 1,
  });
  assert.throws(() => parse(['service', 'ls', 'x']), {
    message: '"swarmctl service ls" accepts no arguments.',
  });
});

test('aliases and --help are recognised', () => {
  assert.deepEqual(parse(['service', 'list']).path, ['service', 'ls']);
  assert.equal(parseCommandLine(root, ['service', 'create', '--help']).result.kind, 'help');
  assert.equal(parseCommandLine(root, ['service']).result.kind, 'help');
  assert.throws(() => parse(['nope']), { message: "swarmctl: 'nope' is not a swarmctl command." });
});
