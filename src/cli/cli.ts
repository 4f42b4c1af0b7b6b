// swarmctl's entry as a function: parses argv, connects to the daemon, runs the command and maps
// every failure to the docker CLI's wording and exit status (125 for flag errors, 1 otherwise).
// `main.ts` calls it with the real process; tests call it with captured output.

import { type CommandSpec, helpText, type Invocation, parseCommandLine, UsageError } from './args.js';
import { ConnectError, DaemonError, EngineClient, resolveEndpoint } from './client.js';
import { imageCommand, infoCommand, nodeCommand, swarmCommand, taskCommand } from './commands/cluster.js';
import { eventsCommand } from './commands/events.js';
import { networkCommand } from './commands/network.js';
import { configCommand, secretCommand } from './commands/secret.js';
import { type ContextualCommand, serviceCommand } from './commands/service.js';
import { stackCommand } from './commands/stack.js';
import { volumeCommand } from './commands/volume.js';
import { CliError, type CliIO, type CommandContext } from './context.js';
import { SpecError } from './servicespec.js';
import { TemplateError } from './template.js';

export const PROGRAM = 'swarmctl';
export const VERSION = '0.1.0';

const ROOT_FLAGS: CommandSpec['flags'] = [
  {
    name: 'host',
    short: 'H',
    kind: 'string',
    description: 'Daemon socket to connect to (unix:///path or tcp://host:port)',
  },
  {
    name: 'socket',
    kind: 'string',
    description: 'Path of the swarmd Engine API socket (default /run/swarmd/swarmd.sock)',
  },
  { name: 'version', short: 'v', kind: 'bool', description: 'Print version information and quit' },
];

const COMMANDS: ContextualCommand[] = [
  serviceCommand,
  swarmCommand,
  nodeCommand,
  networkCommand,
  volumeCommand,
  secretCommand,
  configCommand,
  stackCommand,
  taskCommand,
  imageCommand,
  infoCommand,
  eventsCommand,
];

/** Builds the parser's command tree; `exec` runs with a context made after global flags are read. */
function toSpec(cmd: ContextualCommand, context: () => CommandContext): CommandSpec {
  const { exec, subcommands, ...rest } = cmd;
  const spec: CommandSpec = { ...rest };
  if (exec) spec.run = (inv: Invocation) => exec(context(), inv);
  if (subcommands) spec.subcommands = subcommands.map((s) => toSpec(s, context));
  return spec;
}

function usageErrorText(e: UsageError): string {
  if (e.message.startsWith(`${PROGRAM}: '`) || e.message.includes(' is not a ')) {
    return `${e.message}\nSee '${e.commandPath} --help'\n`;
  }
  const usage = e.usageText ? `\n${e.usageText}\n` : '';
  return `${e.message}\nSee '${e.commandPath} --help'.\n${usage}`;
}

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  let ctx: CommandContext | undefined;
  const root: CommandSpec = {
    name: PROGRAM,
    usage: '[OPTIONS] COMMAND',
    description: 'Manage a swarmkit-ts cluster (Docker Swarm mode) through the Engine API',
    flags: ROOT_FLAGS,
    subcommands: COMMANDS.map((c) =>
      toSpec(c, () => {
        if (!ctx) throw new Error('command context used before it was created');
        return ctx;
      }),
    ),
  };
  let client: EngineClient | undefined;
  try {
    const { result, globals } = parseCommandLine(root, argv);
    if (globals.bool('version')) {
      io.stdout(`${PROGRAM} version ${VERSION}\n`);
      return 0;
    }
    if (result.kind === 'help') {
      io.stdout(helpText(root, result.invocation.path, result.invocation.command));
      return 0;
    }
    const endpoint = resolveEndpoint({
      socket: globals.optionalString('socket'),
      host: globals.optionalString('host'),
      env: io.env,
    });
    client = new EngineClient(endpoint);
    ctx = { ...io, client, prog: PROGRAM };
    const run = result.invocation.command.run;
    if (!run) throw new Error('parsed command has nothing to run');
    return await run(result.invocation);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(usageErrorText(e));
      return e.exitCode;
    }
    if (e instanceof DaemonError) {
      io.stderr(`Error response from daemon: ${e.message}\n`);
      return 1;
    }
    if (e instanceof CliError) {
      io.stderr(`${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof ConnectError || e instanceof SpecError) {
      io.stderr(`${e.message}\n`);
      return 1;
    }
    if (e instanceof TemplateError) {
      io.stderr(`Template parsing error: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    client?.close();
  }
}
