/**
 * Dead letters, in the abstract: what a message in the DLQ is (its kind, decoded with this
 * version; the error the worker recorded; its age), which ones an operator asked to replay, and
 * a tally of what happened to them. The SQS adapter reads the facts; the CLI prints the tally.
 */
import { isLeft, left, right, type Either } from 'fp-ts/Either';
import { decodeSqsBody } from './decode';
import { DOMAIN_EVENT_KINDS } from './events';
import { parseDuration } from './duration';
import { eventId } from './routing';

/** A body this version still cannot decode. */
export const UNDECODABLE = 'undecodable';
export const DEAD_LETTER_KINDS = [...DOMAIN_EVENT_KINDS, UNDECODABLE] as const;
export type DeadLetterKind = (typeof DEAD_LETTER_KINDS)[number];

/**
 * Why a message is in the DLQ: `decode` and `signature` are what the worker records in the
 * `ses-worker.error` attribute when it dead-letters a message itself; `redrive` is a message
 * without that attribute, which the queue's redrive policy moved after `maxReceiveCount`
 * receives (no `SQS_DLQ_URL`, or a batch that kept failing to enqueue).
 */
export const DEAD_LETTER_ERRORS = ['decode', 'signature', 'redrive'] as const;
export type DeadLetterError = (typeof DEAD_LETTER_ERRORS)[number];

/** What the SQS adapter reads off one message. */
export interface DeadLetterFacts {
  readonly body: string;
  /** The `ses-worker.error` attribute, null when absent. */
  readonly error: string | null;
  /** The `ses-worker.error-reason` attribute (`notJson`, `unsupported`, …), null when absent. */
  readonly reason: string | null;
  /** SQS's SentTimestamp, in ms since the epoch; null when SQS did not say. */
  readonly sentAtMs: number | null;
}

export interface DeadLetterClass {
  readonly kind: DeadLetterKind;
  /** The event's id (`bounce/<feedbackId>`, …) when the body decodes now; its jobs derive from it. */
  readonly eventId: string | null;
  /** When it does not decode now: why, as the decoder says today. */
  readonly decodeReason: string | null;
  /** What the worker recorded (an unknown value is kept as it is), or `redrive`. */
  readonly error: string;
  readonly reason: string | null;
  /**
   * How long ago SQS accepted the message: for one the worker dead-lettered, how long it has
   * been in the DLQ; for one the redrive policy moved, how long since it was first sent.
   */
  readonly ageMs: number | null;
}

export function classifyDeadLetter(facts: DeadLetterFacts, nowMs: number): DeadLetterClass {
  const decoded = decodeSqsBody(facts.body);
  const error = facts.error ?? 'redrive';
  return {
    kind: isLeft(decoded) ? UNDECODABLE : decoded.right.kind,
    eventId: isLeft(decoded) ? null : eventId(decoded.right),
    decodeReason: isLeft(decoded) ? decoded.left.reason : null,
    error,
    reason: facts.error === null ? null : facts.reason,
    ageMs: facts.sentAtMs === null ? null : Math.max(0, nowMs - facts.sentAtMs),
  };
}

/** `decode/unsupported`, `signature/…`, or `redrive`: the row label of summaries. */
export function errorLabel(c: Pick<DeadLetterClass, 'error' | 'reason'>): string {
  return c.reason === null ? c.error : `${c.error}/${c.reason}`;
}

/** Which dead letters to replay. Every criterion given must hold; none given: all of them. */
export interface ReplayFilter {
  readonly kinds: ReadonlySet<DeadLetterKind> | null;
  readonly errors: ReadonlySet<DeadLetterError> | null;
  /** Only messages at least this old (ms); a message of unknown age does not match. */
  readonly olderThanMs: number | null;
  /** Only messages younger than this (ms); a message of unknown age does not match. */
  readonly newerThanMs: number | null;
  /** Only messages that decode with this version (replaying the others sends them straight back). */
  readonly decodableOnly: boolean;
}

export const NO_FILTER: ReplayFilter = {
  kinds: null,
  errors: null,
  olderThanMs: null,
  newerThanMs: null,
  decodableOnly: false,
};

/** The options as typed; each absent when not given. */
export interface ReplayFilterInput {
  readonly kind?: string;
  readonly error?: string;
  readonly olderThan?: string;
  readonly newerThan?: string;
  readonly decodable?: boolean;
}

/** Parses the filter options; a bad value gives one line naming the option. */
export function parseReplayFilter(input: ReplayFilterInput): Either<string, ReplayFilter> {
  const kinds = input.kind === undefined ? right(null) : parseKinds(input.kind);
  if (isLeft(kinds)) return left(`--kind: ${kinds.left}`);
  const errors = input.error === undefined ? right(null) : parseErrors(input.error);
  if (isLeft(errors)) return left(`--error: ${errors.left}`);
  const older = input.olderThan === undefined ? right(null) : parseDuration(input.olderThan);
  if (isLeft(older)) return left(`--older-than: ${older.left}`);
  const newer = input.newerThan === undefined ? right(null) : parseDuration(input.newerThan);
  if (isLeft(newer)) return left(`--newer-than: ${newer.left}`);
  if (older.right !== null && newer.right !== null && older.right >= newer.right) {
    return left(
      `--older-than ${input.olderThan} and --newer-than ${input.newerThan}: no message can be both; the first must be shorter`,
    );
  }
  return right({
    kinds: kinds.right,
    errors: errors.right,
    olderThanMs: older.right,
    newerThanMs: newer.right,
    decodableOnly: input.decodable === true,
  });
}

/** `bounce,complaint` → the kinds; case-insensitive (`Bounce` is SES's spelling). */
export function parseKinds(text: string): Either<string, ReadonlySet<DeadLetterKind>> {
  return parseList(text, DEAD_LETTER_KINDS);
}

export function parseErrors(text: string): Either<string, ReadonlySet<DeadLetterError>> {
  return parseList(text, DEAD_LETTER_ERRORS);
}

function parseList<T extends string>(
  text: string,
  allowed: readonly T[],
): Either<string, ReadonlySet<T>> {
  const byLowerCase = new Map(allowed.map((value) => [value.toLowerCase(), value]));
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  const expected = `a comma-separated list of ${allowed.join(', ')}`;
  if (items.length === 0) return left(`expected ${expected}, got an empty value`);
  const parsed = new Set<T>();
  for (const item of items) {
    const value = byLowerCase.get(item.toLowerCase());
    if (value === undefined) return left(`expected ${expected}, got ${JSON.stringify(item)}`);
    parsed.add(value);
  }
  return right(parsed);
}

export function isUnfiltered(filter: ReplayFilter): boolean {
  return (
    filter.kinds === null &&
    filter.errors === null &&
    filter.olderThanMs === null &&
    filter.newerThanMs === null &&
    !filter.decodableOnly
  );
}

export function matchesFilter(filter: ReplayFilter, c: DeadLetterClass): boolean {
  if (filter.kinds !== null && !filter.kinds.has(c.kind)) return false;
  if (filter.errors !== null && !(filter.errors as ReadonlySet<string>).has(c.error)) return false;
  if (filter.decodableOnly && c.kind === UNDECODABLE) return false;
  if (filter.olderThanMs !== null && (c.ageMs === null || c.ageMs < filter.olderThanMs))
    return false;
  if (filter.newerThanMs !== null && (c.ageMs === null || c.ageMs >= filter.newerThanMs))
    return false;
  return true;
}

/** The filter in words, for the summary's first line: `kind bounce, complaint; older than 2h`. */
export function describeFilter(filter: ReplayFilter, formatMs: (ms: number) => string): string {
  const parts: string[] = [];
  if (filter.kinds !== null) parts.push(`kind ${[...filter.kinds].join(', ')}`);
  if (filter.errors !== null) parts.push(`error ${[...filter.errors].join(', ')}`);
  if (filter.decodableOnly) parts.push('decodable now');
  if (filter.olderThanMs !== null) parts.push(`older than ${formatMs(filter.olderThanMs)}`);
  if (filter.newerThanMs !== null) parts.push(`newer than ${formatMs(filter.newerThanMs)}`);
  return parts.length === 0 ? 'every message' : parts.join('; ');
}

/** SQS receives at most 10; a low rate receives fewer, so a batch is never a burst above it. */
export function receiveBatchSize(ratePerSecond: number | null, remaining: number | null): number {
  const byRate = ratePerSecond === null ? 10 : Math.max(1, Math.floor(ratePerSecond));
  return Math.max(0, Math.min(10, byRate, remaining ?? 10));
}

/** What happened to one dead letter during a replay (or what would have, in a dry run). */
export const REPLAY_OUTCOMES = [
  /** Sent to the target and deleted from the DLQ. */
  'moved',
  /** Dry run: it matches and would be moved. */
  'wouldMove',
  /** Does not match (or past --max, or the run stopped first): stays in the DLQ. */
  'kept',
  /** Moved earlier in this same run and dead-lettered again meanwhile: not moved twice. */
  'returned',
  /** The target refused it: stays in the DLQ. */
  'failed',
  /** Sent, but the DLQ's copy could not be deleted: in both (a later replay adds nothing: job ids). */
  'copied',
] as const;
export type ReplayOutcome = (typeof REPLAY_OUTCOMES)[number];

/** Replay outcomes that leave the message in the DLQ. */
export const STAYS_IN_DLQ: ReadonlySet<ReplayOutcome> = new Set([
  'wouldMove',
  'kept',
  'returned',
  'failed',
  'copied',
]);

export interface TallyRow<O extends string> {
  /** The kind (dead letters) or the job name (failed jobs). */
  readonly group: string;
  /** The error label (dead letters) or the failure reason (failed jobs). */
  readonly detail: string;
  readonly counts: Readonly<Record<O, number>>;
  /** The oldest age seen in this row, ms; null when none was known. */
  readonly oldestMs: number | null;
}

/** Counts per (group, detail) and outcome: the summary "by kind and error" of a replay. */
export interface Tally<O extends string> {
  add(group: string, detail: string, outcome: O, ageMs?: number | null): void;
  /** Rows sorted by group, then detail. */
  rows(): TallyRow<O>[];
  total(outcome: O): number;
  /** Every message counted, whatever its outcome. */
  count(): number;
}

export function makeTally<O extends string>(outcomes: readonly O[]): Tally<O> {
  const rows = new Map<
    string,
    { group: string; detail: string; counts: Record<O, number>; oldestMs: number | null }
  >();
  const zero = () => Object.fromEntries(outcomes.map((o) => [o, 0])) as Record<O, number>;
  const totals = zero();
  let count = 0;
  return {
    add(group, detail, outcome, ageMs = null) {
      const key = `${group}\u0000${detail}`;
      let row = rows.get(key);
      if (row === undefined) {
        row = { group, detail, counts: zero(), oldestMs: null };
        rows.set(key, row);
      }
      row.counts[outcome]++;
      totals[outcome]++;
      count++;
      if (ageMs !== null && (row.oldestMs === null || ageMs > row.oldestMs)) row.oldestMs = ageMs;
    },
    rows: () =>
      [...rows.values()]
        .map((row) => ({ ...row, counts: { ...row.counts } }))
        .sort((a, b) => a.group.localeCompare(b.group) || a.detail.localeCompare(b.detail)),
    total: (outcome) => totals[outcome],
    count: () => count,
  };
}

/** SQS's message move task, as ListMessageMoveTasks reports it. */
export interface MoveTaskReport {
  readonly status: string;
  readonly moved: number;
  /** Null until SQS has counted the source. */
  readonly toMove: number | null;
  readonly failureReason: string | null;
}

export type MoveTaskState = 'running' | 'completed' | 'cancelled' | 'failed';

/** RUNNING and CANCELLING are still going; the rest are final. */
export function moveTaskState(report: MoveTaskReport): MoveTaskState {
  switch (report.status) {
    case 'RUNNING':
    case 'CANCELLING':
      return 'running';
    case 'COMPLETED':
      return 'completed';
    case 'CANCELLED':
      return 'cancelled';
    default:
      return 'failed';
  }
}
