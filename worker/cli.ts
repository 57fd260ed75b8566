#!/usr/bin/env node
/** The `ses-worker` command. Every failure ends as one line on stderr and an exit code. */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { version } from '../package.json';
import { ROLES, type Role } from './config';
import { decodeCommand } from './commands/decode';
import { parseVerifyAt, verifySignatureCommand, type VerifyAt } from './commands/verifySignature';
import { demoCommand } from './commands/demo';
import { registerReplayCommands } from './commands/replay';
import { runCommand } from './commands/run';
import { sesPullCommand, sesPushAllCommand, sesRemoveCommand } from './commands/sesSync';
import {
  addCommand,
  exportCommand,
  getCommand,
  importCommand,
  migrateCommand,
  listCommand,
  removeCommand,
  withSuppressionStore,
  type ExportFormat,
} from './commands/suppression';
import type { RedisSuppressionStore } from '../adapters/redis/suppressionStore';
import type { SuppressionStore } from '../domain/ports';
import { EXIT, exitWhenFlushed, processIo, type Io } from './io';

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
    .command('verify-signature')
    .argument('[file]', 'file holding one SQS message body; - or nothing reads standard input')
    .addOption(
      new Option(
        '--at <when>',
        'when the certificate must be valid: now, message (the envelope’s Timestamp, for stored or dead-lettered messages) or an ISO 8601 time',
      )
        .default('now', 'now')
        .argParser(verifyAt),
    )
    .description(
      'check the SNS signature of one SQS message body as the worker does (SNS_CERT_DIR, SNS_CERT_FETCH, SNS_TOPIC_ARNS); one line; exit 0 valid, 65 invalid, 69 certificate unavailable',
    )
    .action(async (file: string | undefined, options: { at: VerifyAt }) => {
      process.exitCode = await verifySignatureCommand(file, options.at, process.env, io);
    });

  program
    .command('run')
    .description(
      'drain the SQS queue and run the job processors until SIGTERM/SIGINT (configuration: environment variables, see docs/configuration.md)',
    )
    .addOption(new Option('--role <role>', 'overrides ROLE: ingest, process or all').choices(ROLES))
    .option(
      '--embedded',
      'when SQS_QUEUE_URL is unset, start an in-process SQS/SNS/S3 emulator with a topic, queue and DLQ, and run on it',
    )
    .action(async (options: { role?: Role; embedded?: boolean }) => {
      // Exit explicitly: after a shutdown deadline, unfinished work may still hold handles open
      // (and a stuck log reader must not hold the exit either).
      process.exit(await runCommand(process.env, options, io));
    });

  program
    .command('demo')
    .description(
      'start the embedded emulator and the worker, publish every sample SES notification through SNS, wait for the jobs, print a summary and exit',
    )
    .action(async () => {
      exitWhenFlushed(await demoCommand(process.env, io));
    });

  registerReplayCommands(program, io);

  addSuppressionCommands(program, io);

  return program;
}

function addSuppressionCommands(program: Command, io: Io): void {
  const suppression = program
    .command('suppression')
    .description(
      'read and change the suppression list in Redis (REDIS_URL, BULLMQ_PREFIX); results as JSON lines on stdout',
    );
  const scope = () =>
    new Option('--scope <scope>', 'global, list:<contactList> or topic:<contactList>:<topic>');
  const run = (command: (store: SuppressionStore, own: RedisSuppressionStore) => Promise<number>) =>
    withSuppressionStore(process.env, io, command).then((code) => exitWhenFlushed(code));

  suppression
    .command('get')
    .argument('<address>')
    .description('why the address is suppressed: its entries and history; exit 1 when it is not')
    .action((address: string) => run((store) => getCommand(store, address, io)));
  suppression
    .command('list')
    .description('every entry, one JSON line each')
    .addOption(scope())
    .option('--reason <reason>', 'complaint, bounce, transient-bounces, unsubscribe or manual')
    .option('--limit <n>', 'at most n entries', positiveInteger)
    .action((options: { scope?: string; reason?: string; limit?: number }) =>
      run((store) => listCommand(store, options, io)),
    );
  suppression
    .command('add')
    .argument('<address>')
    .description('suppress the address by hand (reason manual, audited)')
    .addOption(scope().default('global'))
    .option('--note <text>', 'why, for the audit trail')
    .action((address: string, options: { scope?: string; note?: string }) =>
      run((store) => addCommand(store, address, options, io)),
    );
  suppression
    .command('remove')
    .argument('<address>')
    .description('remove the address’s entry in one scope (audited); exit 1 when there was none')
    .addOption(scope().default('global'))
    .option('--note <text>', 'why, for the audit trail')
    .option(
      '--ses',
      'also delete it from SES’s account-level suppression list, whoever put it there',
    )
    .action(async (address: string, options: { scope?: string; note?: string; ses?: boolean }) => {
      if (options.ses !== true) return run((store) => removeCommand(store, address, options, io));
      const removed = await withSuppressionStore(process.env, io, (store) =>
        removeCommand(store, address, options, io),
      );
      // 0 and 1 say whether our list held it; anything else stopped the command.
      if (removed !== 0 && removed !== 1) return exitWhenFlushed(removed);
      // The exit code is SES's answer: 0 deleted there, 1 SES did not hold it.
      exitWhenFlushed(await sesRemoveCommand(process.env, address, { io, progress: false }));
    });
  suppression
    .command('pull')
    .description(
      'import SES’s account-level suppression list (paged, with progress; interrupted, the next pull resumes where it stopped)',
    )
    .option('--since <time>', 'from this ISO 8601 time instead of the last pull’s watermark')
    .option('--no-progress', 'no progress on stderr')
    .action(async (options: { since?: string; progress: boolean }) => {
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      process.once('SIGTERM', () => abort.abort());
      exitWhenFlushed(
        await sesPullCommand(process.env, options, {
          io,
          progress: options.progress,
          signal: abort.signal,
        }),
      );
    });
  suppression
    .command('push')
    .description(
      'put the whole global list to SES: one queued put per entry on ses-sync, or with --bulk one CreateImportJob per 100,000 entries from a CSV in SES_SYNC_IMPORT_BUCKET',
    )
    .requiredOption('--all', 'every global entry SES is not known to hold')
    .option('--bulk', 'through S3 and SES import jobs (the way to seed a large list)')
    .option('--no-progress', 'no progress on stderr')
    .action(async (options: { bulk?: boolean; progress: boolean }) => {
      exitWhenFlushed(
        await sesPushAllCommand(
          process.env,
          { bulk: options.bulk === true },
          { io, progress: options.progress },
        ),
      );
    });
  suppression
    .command('import')
    .argument('<file>', 'CSV with a header row, or JSON lines (as export writes them); - for stdin')
    .description(
      'add the rows (idempotent: importing a file twice adds nothing the second time); exit 65 if any row was invalid',
    )
    .addOption(
      new Option('--format <format>', 'default: csv for *.csv, jsonl otherwise').choices([
        'csv',
        'jsonl',
      ]),
    )
    .option(
      '--scope <scope>',
      'for rows that name none: global, list:<contactList> or topic:<contactList>:<topic>',
      'global',
    )
    .option('--note <text>', 'for rows without one')
    .option('--no-progress', 'no progress on stderr')
    .action(
      (
        file: string,
        options: { format?: ExportFormat; scope?: string; note?: string; progress: boolean },
      ) => run((store) => importCommand(store, file, options, io)),
    );
  suppression
    .command('migrate')
    .description(
      'move what the layout before buckets left (entries, bounce history, opt-ins, audit history, markers) into the buckets now; the worker also does it in the background',
    )
    .action(() => run((_store, own) => migrateCommand(own, io)));
  suppression
    .command('export')
    .description('write every entry (or those of a scope/reason) as JSON lines or CSV')
    .addOption(new Option('--format <format>').choices(['csv', 'jsonl']).default('jsonl'))
    .addOption(scope())
    .option('--reason <reason>', 'complaint, bounce, transient-bounces, unsubscribe or manual')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .option('--no-progress', 'no progress on stderr')
    .action(
      (options: {
        format: ExportFormat;
        scope?: string;
        reason?: string;
        output?: string;
        progress: boolean;
      }) => run((store) => exportCommand(store, options, io)),
    );
}

function verifyAt(text: string): VerifyAt {
  const at = parseVerifyAt(text);
  if (at === undefined) throw new InvalidArgumentError('expected now, message or an ISO 8601 time');
  return at;
}

function positiveInteger(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
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
