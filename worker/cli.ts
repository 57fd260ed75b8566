#!/usr/bin/env node
/** The `ses-worker` command. Every failure ends as one line on stderr and an exit code. */
import { Command, CommanderError, Option } from 'commander';
import { version } from '../package.json';
import { ROLES, type Role } from './config';
import { decodeCommand } from './commands/decode';
import { demoCommand } from './commands/demo';
import { runCommand } from './commands/run';
import { EXIT, processIo, type Io } from './io';

export function buildProgram(io: Io): Command {
  const program = new Command('ses-worker')
    .description(
      'Drains Amazon SES notifications (SES → SNS → SQS), decodes them into typed events and dispatches jobs.',
    )
    .version(version)
    .showHelpAfterError('(run ses-worker --help for the commands)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });

  program
    .command('decode')
    .argument('[file]', 'file holding one SQS message body; - or nothing reads standard input')
    .description(
      'decode one SQS message body (SNS envelope or raw SES JSON) and print its DomainEvent as one JSON line; exit 65 if it does not decode',
    )
    .action(async (file: string | undefined) => {
      process.exitCode = await decodeCommand(file, io);
    });

  program
    .command('run')
    .description(
      'drain the SQS queue and run the job processors until SIGTERM/SIGINT (configuration: environment variables, see README)',
    )
    .addOption(new Option('--role <role>', 'overrides ROLE: ingest, process or all').choices(ROLES))
    .option(
      '--embedded',
      'when SQS_QUEUE_URL is unset, start an in-process SQS/SNS/S3 emulator with a topic, queue and DLQ, and run on it',
    )
    .action(async (options: { role?: Role; embedded?: boolean }) => {
      // Exit explicitly: after a shutdown deadline, unfinished work may still hold handles open.
      process.exit(await runCommand(process.env, options, io));
    });

  program
    .command('demo')
    .description(
      'start the embedded emulator and the worker, publish every sample SES notification through SNS, wait for the jobs, print a summary and exit',
    )
    .action(async () => {
      process.exit(await demoCommand(process.env, io));
    });

  return program;
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<void> {
  try {
    await buildProgram(io).parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version "fail" with code 0; anything else is a usage error already printed.
      process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    io.stderr.write(`ses-worker: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = EXIT.software;
  }
}

if (require.main === module) void main(process.argv);
