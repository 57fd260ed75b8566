/**
 * `ses-worker suppression get|list|add|remove|import|export`: the suppression list from a
 * shell, straight on Redis (REDIS_URL or REDIS_CLUSTER_NODES, BULLMQ_PREFIX) — no running worker
 * needed. With REDIS_MIN_REPLICAS_ACK, a change is reported done once the replicas hold it.
 *
 * Results go to standard output (JSON lines, or CSV for export); progress and errors to
 * standard error. Import is idempotent per row: importing a file twice adds nothing the second
 * time.
 */
import { describeRedis } from '../config';
import { connectRedis, ReplicationError } from '../../adapters/redis/connection';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import { isLeft } from 'fp-ts/Either';
import * as t from 'io-ts';
import { HOW_TO_START_REDIS, redisUnreachable } from '../../adapters/redis/probe';
import {
  makeSuppressionStore,
  type RedisSuppressionStore,
} from '../../adapters/redis/suppressionStore';
import { normalizeEmailAddress, type EmailAddress } from '../../domain/address';
import { fromValidationErrors } from '../../domain/codec/decodeError';
import { fnv1a64 } from '../../domain/hash';
import type { SuppressionNotification, SuppressionStore } from '../../domain/ports';
import {
  isSuppressionReason,
  noteProblem,
  parseScope,
  SUPPRESSION_REASONS,
  type SuppressionEntry,
  type SuppressionEvidence,
  type SuppressionReason,
  type SuppressionScope,
} from '../../domain/suppression';
import { configOrExit } from '../config';
import { cliSesSync } from '../sesSyncFeature';
import { EXIT, type Io } from '../io';
import { makeProgress, type Progress } from './progress';

export type ExportFormat = 'csv' | 'jsonl';

/** A command's own failure: one line on stderr, and its exit code. */
class CommandFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Opens the store for one command and closes it after, mapping failures to exit codes. */
export async function withSuppressionStore(
  env: NodeJS.ProcessEnv,
  io: Io,
  command: (store: SuppressionStore, own: RedisSuppressionStore) => Promise<number>,
): Promise<number> {
  const config = configOrExit(env, io);
  if (typeof config === 'number') return config;
  const unreachable = await redisUnreachable(config.redis);
  if (unreachable !== null) {
    io.stderr.write(
      `ses-worker: Redis at ${describeRedis(config.redis)} is unreachable (${unreachable}); ${HOW_TO_START_REDIS}\n`,
    );
    return EXIT.unavailable;
  }
  const redis = connectRedis(config.redis, { maxRetriesPerRequest: 1 });
  // With SES sync on, adds and removes made here are pushed and lifted like the API's.
  const sync = cliSesSync(redis, config);
  try {
    const own = makeSuppressionStore(redis, config.bullmqPrefix, config.suppression.store);
    return await command(sync.wrap(own), own);
  } catch (error) {
    if (error instanceof ReplicationError) {
      io.stderr.write(
        `ses-worker: the change is on the Redis master but its replicas did not confirm it (${error.message}): a failover could lose it; run the command again (REDIS_MIN_REPLICAS_ACK)\n`,
      );
      return EXIT.unavailable;
    }
    if (!(error instanceof CommandFailure)) throw error;
    io.stderr.write(`ses-worker: ${error.message}\n`);
    return error.exitCode;
  } finally {
    await sync.close();
    await redis.quit().catch(() => redis.disconnect());
  }
}

export function addressArgument(raw: string): EmailAddress {
  const address = normalizeEmailAddress(raw);
  if (address === null)
    throw new CommandFailure(
      `invalid address ${JSON.stringify(raw)}: expected one email address like user@example.com`,
      EXIT.dataError,
    );
  return address;
}

export function scopeOption(raw: string | undefined): SuppressionScope {
  if (raw === undefined) return 'global';
  const scope = parseScope(raw);
  if (scope === null)
    throw new CommandFailure(
      `--scope: expected global, list:<contactList> or topic:<contactList>:<topic>, got ${JSON.stringify(raw)}`,
      EXIT.usage,
    );
  return scope;
}

function reasonOption(raw: string | undefined): SuppressionReason | undefined {
  if (raw === undefined) return undefined;
  if (!isSuppressionReason(raw))
    throw new CommandFailure(
      `--reason: expected ${SUPPRESSION_REASONS.join(', ')}, got ${JSON.stringify(raw)}`,
      EXIT.usage,
    );
  return raw;
}

/** `--note`, checked against the same limit as the API's and an imported row's. */
function noteOption(raw: string | undefined): string | undefined {
  const problem = raw === undefined ? null : noteProblem(raw);
  if (problem !== null) throw new CommandFailure(`--note: ${problem}`, EXIT.usage);
  return raw;
}

/** An operator's change, now, with their note if they gave one. */
export const manualEvidence = (note: string | undefined): SuppressionEvidence => ({
  at: new Date().toISOString(),
  kind: 'manual',
  ...(note === undefined ? {} : { note }),
});

const line = (io: Io, value: unknown) => io.stdout.write(`${JSON.stringify(value)}\n`);

/** Prints the address's entries and history; exit 0 when suppressed, 1 when not (like grep). */
export async function getCommand(store: SuppressionStore, raw: string, io: Io): Promise<number> {
  const record = await store.get(addressArgument(raw));
  const suppressed = record.entries.length > 0;
  line(io, { ...record, suppressed });
  return suppressed ? EXIT.ok : 1;
}

export async function listCommand(
  store: SuppressionStore,
  options: { scope?: string; reason?: string; limit?: number },
  io: Io,
): Promise<number> {
  let remaining = options.limit ?? Infinity;
  for await (const entry of entries(store, options)) {
    if (remaining-- <= 0) break;
    line(io, entry);
  }
  return EXIT.ok;
}

async function* entries(
  store: SuppressionStore,
  options: { scope?: string; reason?: string },
): AsyncGenerator<SuppressionEntry> {
  const scope = options.scope === undefined ? undefined : scopeOption(options.scope);
  const reason = reasonOption(options.reason);
  let cursor: string | null = null;
  do {
    const page = await store.list({
      ...(scope === undefined ? {} : { scope }),
      ...(reason === undefined ? {} : { reason }),
      ...(cursor === null ? {} : { cursor }),
      limit: 1000,
    });
    yield* page.entries;
    cursor = page.nextCursor;
  } while (cursor !== null);
}

export async function addCommand(
  store: SuppressionStore,
  raw: string,
  options: { scope?: string; note?: string },
  io: Io,
): Promise<number> {
  const address = addressArgument(raw);
  const scope = scopeOption(options.scope);
  const note = noteOption(options.note);
  const [outcome] = await store.apply(
    address,
    [{ type: 'suppress', scope, reason: 'manual', evidence: manualEvidence(note) }],
    null,
  );
  line(io, { address, scope, outcome });
  return EXIT.ok;
}

/** Exit 0 when an entry was removed, 1 when there was none in that scope. */
export async function removeCommand(
  store: SuppressionStore,
  raw: string,
  options: { scope?: string; note?: string },
  io: Io,
): Promise<number> {
  const address = addressArgument(raw);
  const scope = scopeOption(options.scope);
  const note = noteOption(options.note);
  const [outcome] = await store.apply(
    address,
    [{ type: 'remove', scope, evidence: manualEvidence(note) }],
    null,
  );
  line(io, { address, scope, outcome });
  return outcome === 'removed' ? EXIT.ok : 1;
}

export interface ExportOptions {
  readonly format: ExportFormat;
  readonly scope?: string;
  readonly reason?: string;
  /** A file to write; standard output when absent. */
  readonly output?: string;
  readonly progress: boolean;
}

const CSV_COLUMNS = [
  'address',
  'scope',
  'reason',
  'first_at',
  'last_at',
  'count',
  'evidence_kind',
  'ses_message_id',
  'feedback_id',
  'bounce_type',
  'bounce_sub_type',
  'status',
  'diagnostic_code',
  'complaint_feedback_type',
  'source',
  'note',
] as const;

function csvRow(entry: SuppressionEntry): string[] {
  const e = entry.evidence;
  return [
    entry.address,
    entry.scope,
    entry.reason,
    entry.firstAt,
    entry.lastAt,
    String(entry.count),
    e.kind,
    e.sesMessageId ?? '',
    e.feedbackId ?? '',
    e.bounceType ?? '',
    e.bounceSubType ?? '',
    e.status ?? '',
    e.diagnosticCode ?? '',
    e.complaintFeedbackType ?? '',
    e.source ?? '',
    e.note ?? '',
  ];
}

export async function exportCommand(
  store: SuppressionStore,
  options: ExportOptions,
  io: Io,
): Promise<number> {
  const reason = reasonOption(options.reason);
  const counts = await store.counts();
  const estimate = reason === undefined ? counts.total : counts.byReason[reason];
  const progress = progressFor('export', options.progress, io);
  const out: Writable | null =
    options.output === undefined ? null : createWriteStream(options.output);
  const write = async (text: string) => {
    if (out === null) io.stdout.write(text);
    else if (!out.write(text)) await once(out, 'drain');
  };
  let exported = 0;
  try {
    if (options.format === 'csv') await write(stringifyCsv([[...CSV_COLUMNS]]));
    for await (const entry of entries(store, options)) {
      await write(
        options.format === 'csv' ? stringifyCsv([csvRow(entry)]) : `${JSON.stringify(entry)}\n`,
      );
      progress.update(++exported, estimate, `${exported} entries`);
    }
  } finally {
    progress.stop();
    if (out !== null) {
      out.end();
      await once(out, 'close');
    }
  }
  io.stderr.write(`exported ${exported} entries\n`);
  return EXIT.ok;
}

export interface ImportOptions {
  readonly format?: ExportFormat;
  /** For rows that name no scope. */
  readonly scope?: string;
  readonly note?: string;
  readonly progress: boolean;
}

/** A full entry, as `export --format jsonl` writes it: restored as it was. */
const EntryCodec = t.type({
  address: t.string,
  scope: t.string,
  reason: t.string,
  firstAt: t.string,
  lastAt: t.string,
  count: t.number,
  evidence: t.type({ at: t.string, kind: t.string }),
  latest: t.type({ at: t.string, kind: t.string }),
});

/** A bare row: an address, and optionally its scope, reason, note and time. */
const RowCodec = t.intersection([
  t.type({ address: t.string }),
  t.partial({
    scope: t.string,
    reason: t.string,
    note: t.string,
    at: t.string,
  }),
]);
type Row = t.TypeOf<typeof RowCodec>;

/** Header names other tools use (SES's own export among them), lower-cased. */
const CSV_ALIASES: Readonly<Record<string, keyof Row>> = {
  address: 'address',
  email: 'address',
  emailaddress: 'address',
  email_address: 'address',
  scope: 'scope',
  reason: 'reason',
  note: 'note',
  first_at: 'at',
  lastupdatetime: 'at',
  last_update_time: 'at',
};

export async function importCommand(
  store: SuppressionStore,
  file: string,
  options: ImportOptions,
  io: Io,
): Promise<number> {
  const defaultScope = scopeOption(options.scope);
  const defaultNote = noteOption(options.note);
  const format = options.format ?? (/\.csv$/i.test(file) ? 'csv' : 'jsonl');
  const size = file === '-' ? 0 : statSyncSize(file);
  const input: Readable = file === '-' ? process.stdin : createReadStream(file);
  const progress = progressFor('import', options.progress, io);
  const tally = new Map<string, number>();
  const invalid: string[] = [];
  let bytes = 0;
  input.on('data', (chunk: Buffer | string) => (bytes += chunk.length));

  // Rows are applied 500 at a time, in order: each run of bare rows in one `applyAll`, each run
  // of exported entries in one `restoreAll` (a script call per bucket, one wait for replicas).
  let batch: ImportRow[] = [];
  let rows = 0;
  const flush = async () => {
    for (const run of runsOf(batch)) {
      const outcomes =
        run[0]!.kind === 'entry'
          ? await store.restoreAll(run.map((row) => (row as EntryRow).entry))
          : (await store.applyAll(run.map((row) => (row as BareRow).notification))).map(
              (changes) => changes[0]!.outcome,
            );
      for (const outcome of outcomes) tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
    }
    batch = [];
    progress.update(bytes, Math.max(size, bytes), summary(rows, tally, invalid.length));
  };
  const take = async (where: string, value: unknown) => {
    rows++;
    const applied = importRow(value, defaultScope, defaultNote);
    if (typeof applied === 'string') invalid.push(`${where}: ${applied}`);
    else batch.push(applied);
    if (batch.length >= 500) await flush();
  };

  try {
    if (format === 'csv') {
      const records = input.pipe(
        parseCsv({
          columns: (header: string[]) =>
            header.map((name) => CSV_ALIASES[name.trim().toLowerCase()] ?? name.trim()),
          skip_empty_lines: true,
          trim: true,
          relax_column_count: true,
          info: true,
        }),
      );
      for await (const { record, info } of records as AsyncIterable<{
        record: Record<string, string>;
        info: { lines: number };
      }>) {
        await take(`line ${info.lines}`, withoutEmpty(record));
      }
    } else {
      let pending = '';
      let lineNumber = 0;
      const takeLine = async (text: string) => {
        lineNumber++;
        if (text.trim() === '') return;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          invalid.push(`line ${lineNumber}: not JSON`);
          rows++;
          return;
        }
        await take(`line ${lineNumber}`, value);
      };
      for await (const chunk of input) {
        pending += String(chunk);
        const lines = pending.split('\n');
        pending = lines.pop()!;
        for (const text of lines) await takeLine(text);
      }
      await takeLine(pending);
    }
    await flush();
  } catch (error) {
    if (error instanceof ReplicationError) throw error;
    throw new CommandFailure(
      `import: ${file}: ${error instanceof Error ? error.message : String(error)}`,
      EXIT.dataError,
    );
  } finally {
    progress.stop();
  }
  for (const problem of invalid.slice(0, 20)) io.stderr.write(`skipped ${problem}\n`);
  if (invalid.length > 20) io.stderr.write(`… and ${invalid.length - 20} more skipped rows\n`);
  line(io, {
    rows,
    ...Object.fromEntries([...tally.entries()].sort()),
    invalid: invalid.length,
  });
  return invalid.length === 0 ? EXIT.ok : EXIT.dataError;
}

/** An exported entry, restored as it was; or a bare row, added as a notification. */
interface EntryRow {
  readonly kind: 'entry';
  readonly entry: SuppressionEntry;
}
interface BareRow {
  readonly kind: 'bare';
  readonly notification: SuppressionNotification;
}
type ImportRow = EntryRow | BareRow;

/** The rows in runs of one kind, in order. */
function runsOf(rows: readonly ImportRow[]): ImportRow[][] {
  const runs: ImportRow[][] = [];
  for (const row of rows) {
    const last = runs.at(-1);
    if (last !== undefined && last[0]!.kind === row.kind) last.push(row);
    else runs.push([row]);
  }
  return runs;
}

/** What one row is to apply, or why it cannot be. */
function importRow(
  value: unknown,
  defaultScope: SuppressionScope,
  note: string | undefined,
): ImportRow | string {
  const entry = EntryCodec.decode(value);
  if (!isLeft(entry)) {
    const address = normalizeEmailAddress(entry.right.address);
    const scope = parseScope(entry.right.scope);
    if (address === null) return `invalid address ${JSON.stringify(entry.right.address)}`;
    if (scope === null) return `invalid scope ${JSON.stringify(entry.right.scope)}`;
    if (!isSuppressionReason(entry.right.reason))
      return `invalid reason ${JSON.stringify(entry.right.reason)}`;
    if ([entry.right.firstAt, entry.right.lastAt].some((at) => Number.isNaN(Date.parse(at))))
      return 'firstAt and lastAt must be ISO 8601 times';
    return { kind: 'entry', entry: { ...(value as SuppressionEntry), address, scope } };
  }
  const decoded = RowCodec.decode(value);
  if (isLeft(decoded)) return fromValidationErrors(decoded.left).message;
  const row = decoded.right;
  const address = normalizeEmailAddress(row.address);
  if (address === null) return `invalid address ${JSON.stringify(row.address)}`;
  const scope = row.scope === undefined ? defaultScope : parseScope(row.scope);
  if (scope === null) return `invalid scope ${JSON.stringify(row.scope)}`;
  const reason = row.reason === undefined ? 'manual' : row.reason.toLowerCase();
  if (!isSuppressionReason(reason)) return `invalid reason ${JSON.stringify(row.reason)}`;
  const at = row.at === undefined ? Date.now() : Date.parse(row.at);
  if (Number.isNaN(at)) return `invalid time ${JSON.stringify(row.at)}`;
  const noteTooLong = row.note === undefined ? null : noteProblem(row.note);
  if (noteTooLong !== null) return `note: ${noteTooLong}`;
  const rowNote = row.note ?? note;
  return {
    kind: 'bare',
    notification: {
      address,
      changes: [
        {
          type: 'suppress',
          scope,
          reason,
          evidence: {
            at: new Date(at).toISOString(),
            kind: 'import',
            ...(rowNote === undefined ? {} : { note: rowNote }),
          },
        },
      ],
      // The same row imported again changes nothing.
      eventKey: `import/${fnv1a64([address, scope, reason, row.at ?? '', rowNote ?? ''])}`,
    },
  };
}

function withoutEmpty(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== ''));
}

function summary(rows: number, tally: ReadonlyMap<string, number>, invalid: number): string {
  const parts = [...tally.entries()].map(([outcome, n]) => `${n} ${outcome}`);
  if (invalid > 0) parts.push(`${invalid} invalid`);
  return `${rows} rows${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`;
}

function statSyncSize(file: string): number {
  try {
    return statSync(file).size;
  } catch (error) {
    throw new CommandFailure(
      `import: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      EXIT.noInput,
    );
  }
}

export function progressFor(label: string, enabled: boolean, io: Io): Progress {
  return makeProgress(
    label,
    enabled
      ? process.stderr.isTTY
        ? { mode: 'bar', stream: process.stderr, stdoutIsTTY: process.stdout.isTTY === true }
        : { mode: 'lines' }
      : { mode: 'none' },
    io,
    false,
  );
}

/**
 * Moves the layout before buckets into the buckets now, pass after pass until one finds
 * nothing (the worker does the same in the background); prints what each pass moved.
 */
export async function migrateCommand(store: RedisSuppressionStore, io: Io): Promise<number> {
  for (let pass = 1; ; pass++) {
    const moved = await store.migrateLegacy();
    io.stdout.write(`${JSON.stringify({ pass, ...moved })}\n`);
    if (!moved.remaining) return EXIT.ok;
    if (pass === MAX_MIGRATION_PASSES)
      throw new CommandFailure(
        `old-layout entries still changing after ${pass} passes: are replicas of the previous version still running?`,
        EXIT.interrupted,
      );
  }
}

/** Passes before giving up while old replicas keep writing. */
const MAX_MIGRATION_PASSES = 5;
