/**
 * Reputation: the bounce and complaint rates SES watches, over the last 24 hours and 7 days,
 * per account, configuration set and sending identity, and the state they put each one in.
 * Pure: the counts come from minute and hour buckets (adapters/redis/reputationStore.ts).
 *
 * What is counted, in recipients (SES counts a message to three recipients as three):
 * - `send`: Send events. SES divides by these.
 * - `delivery`, `hardBounce` (Permanent), `softBounce` (Transient, Undetermined).
 * - `complaint`.
 * Bounces and complaints SES reports for addresses on the account-level suppression list
 * (`OnAccountSuppressionList`) are not counted: SES does not count them against the account.
 * Bounces of the global suppression list (`Suppressed`) are, as SES counts them.
 *
 * The denominator is the larger of the sends and the outcomes (deliveries + all bounces). With
 * Send events published, sends are the larger (every recipient sent ends as at most one
 * outcome), which is SES's own denominator. Identity notifications carry no Send event: sends
 * are zero and the outcomes stand in. A setup publishing Send for some mail only gets the
 * better of the two estimates, and a rate never exceeds 100 %.
 */
import { fnv1a32 } from './hash';
import type { CountedEvent } from './jobs';

export const REPUTATION_METRICS = [
  'send',
  'delivery',
  'hardBounce',
  'softBounce',
  'complaint',
] as const;
export type ReputationMetric = (typeof REPUTATION_METRICS)[number];
export type ReputationCounts = Readonly<Record<ReputationMetric, number>>;

export const NO_COUNTS: ReputationCounts = {
  send: 0,
  delivery: 0,
  hardBounce: 0,
  softBounce: 0,
  complaint: 0,
};

export function addCounts(a: ReputationCounts, b: ReputationCounts): ReputationCounts {
  return {
    send: a.send + b.send,
    delivery: a.delivery + b.delivery,
    hardBounce: a.hardBounce + b.hardBounce,
    softBounce: a.softBounce + b.softBounce,
    complaint: a.complaint + b.complaint,
  };
}

const ON_ACCOUNT_SUPPRESSION_LIST = 'OnAccountSuppressionList';

/** Which reputation count an event adds to, and by how many recipients; null for none. */
export function reputationContribution(
  event: CountedEvent,
): { readonly metric: ReputationMetric; readonly weight: number } | null {
  const weight =
    Number.isSafeInteger(event.recipients) && event.recipients > 0 ? event.recipients : 1;
  switch (event.kind) {
    case 'send':
      return { metric: 'send', weight };
    case 'delivery':
      return { metric: 'delivery', weight };
    case 'bounce': {
      if (event.bounce === undefined) return null;
      if (event.bounce.bounceSubType === ON_ACCOUNT_SUPPRESSION_LIST) return null;
      return {
        metric: event.bounce.bounceType === 'Permanent' ? 'hardBounce' : 'softBounce',
        weight,
      };
    }
    case 'complaint':
      if (event.complaint?.complaintSubType === ON_ACCOUNT_SUPPRESSION_LIST) return null;
      return { metric: 'complaint', weight };
    case 'reject':
    case 'open':
    case 'click':
    case 'renderingFailure':
    case 'deliveryDelay':
    case 'subscription':
    case 'received':
    case 'sesSubscriptionTest':
    case 'sesEventDestinationTest':
    case 'snsSubscriptionConfirmation':
    case 'snsUnsubscribeConfirmation':
      return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Dimensions

export const DIMENSION_TYPES = ['account', 'configurationSet', 'identity'] as const;
export type DimensionType = (typeof DIMENSION_TYPES)[number];

export interface Dimension {
  readonly type: DimensionType;
  /** The configuration set's name (`none` for mail sent without one), the identity's domain, or `all`. */
  readonly name: string;
}

export const ACCOUNT: Dimension = { type: 'account', name: 'all' };

/** `account`, `configurationSet=<name>`, `identity=<domain>`: names hold no `=` or `|`. */
export function dimensionKey(dimension: Dimension): string {
  return dimension.type === 'account' ? 'account' : `${dimension.type}=${dimension.name}`;
}

export function parseDimensionKey(key: string): Dimension | null {
  if (key === 'account') return ACCOUNT;
  const at = key.indexOf('=');
  if (at < 0) return null;
  const type = key.slice(0, at);
  const name = key.slice(at + 1);
  if ((type !== 'configurationSet' && type !== 'identity') || name === '') return null;
  return { type, name };
}

// ---------------------------------------------------------------------------------------------
// Windows and buckets

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

export const WINDOWS = [
  { name: '24h', minutes: 24 * 60 },
  { name: '7d', minutes: 7 * 24 * 60 },
] as const;
export type WindowName = (typeof WINDOWS)[number]['name'];

/** How long buckets are kept past their end: the longest window, plus an hour of slack. */
export const MINUTE_BUCKET_RETENTION_MS = 7 * 24 * HOUR_MS + HOUR_MS;
/** Hour buckets also feed the status page's 24-hour rate, drawn over the last 7 days. */
export const HOUR_BUCKET_RETENTION_MS = 8 * 24 * HOUR_MS + HOUR_MS;

/**
 * The windows and the events' first-sight markers are spread over this many buckets, each a
 * Redis hash tag of its own, so that on Redis Cluster the counting spreads over up to this many
 * shards, while an event's marker and its counts stay in one slot (one script, atomic per
 * event). Every read of a window fans out to all buckets (each evaluation reads about 290 hashes
 * per bucket), so this is kept well below the suppression list's 256: sixteen still spread the
 * writes evenly over three masters, and over up to sixteen shards.
 *
 * An event's bucket decides where its marker is: changing the count would let an event
 * redelivered across the change be counted twice (within METRICS_DEDUPE_SECONDS), nothing worse.
 */
export const REPUTATION_BUCKETS = 16;

export const reputationBucket = (eventId: string): number => fnv1a32(eventId) % REPUTATION_BUCKETS;

/**
 * The buckets that add up to the `minutes` minutes ending with minute `endMinute` (inclusive;
 * minutes and hours counted from the epoch): whole hours as hour buckets, the ragged edges as
 * minute buckets. At most 118 minute buckets, however long the window.
 */
export function windowBuckets(
  endMinute: number,
  minutes: number,
): { readonly minutes: number[]; readonly hours: number[] } {
  const start = endMinute - minutes + 1;
  const firstHour = Math.ceil(start / 60);
  const lastHour = Math.floor((endMinute + 1) / 60) - 1;
  const range = (from: number, to: number) =>
    Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
  if (firstHour > lastHour) return { minutes: range(start, endMinute), hours: [] };
  return {
    minutes: [...range(start, firstHour * 60 - 1), ...range((lastHour + 1) * 60, endMinute)],
    hours: range(firstHour, lastHour),
  };
}

// ---------------------------------------------------------------------------------------------
// Rates and states

export const REPUTATION_STATES = ['ok', 'warn', 'critical'] as const;
export type ReputationState = (typeof REPUTATION_STATES)[number];
/** The `ses_reputation_state` gauge's value. */
export const STATE_VALUE: Readonly<Record<ReputationState, number>> = {
  ok: 0,
  warn: 1,
  critical: 2,
};

export interface Threshold {
  readonly warn: number;
  readonly critical: number;
}

export interface ReputationThresholds {
  readonly bounce: Threshold;
  readonly complaint: Threshold;
}

/**
 * SES's own levels: it may put an account under review at about 5 % bounces or 0.1 %
 * complaints, and pause its sending at about 10 % or 0.5 %.
 */
export const SES_THRESHOLDS: ReputationThresholds = {
  bounce: { warn: 0.05, critical: 0.1 },
  complaint: { warn: 0.001, critical: 0.005 },
};

/**
 * A state is left only once its rate has fallen this far below the threshold that set it
 * (relative): a rate hovering at the threshold does not flip the state, and call the webhook, on
 * every evaluation.
 */
export const HYSTERESIS = 0.1;

export interface WindowReport {
  readonly window: WindowName;
  readonly counts: ReputationCounts;
  /** What the rates divide by, and where it came from (see the module's comment). */
  readonly volume: number;
  readonly volumeFrom: 'sends' | 'deliveriesAndBounces';
  /** Null without any volume. */
  readonly bounceRate: number | null;
  readonly complaintRate: number | null;
  /** Below the minimum volume a window's rates are shown but decide no state. */
  readonly enoughVolume: boolean;
  readonly state: ReputationState;
}

export interface DimensionReport {
  readonly dimension: Dimension;
  readonly windows: readonly WindowReport[];
  /** The worst of its windows' states. */
  readonly state: ReputationState;
  /** The state last recorded (and announced), before this evaluation. */
  readonly previousState: ReputationState;
}

export interface ReputationReport {
  readonly at: string;
  readonly thresholds: ReputationThresholds;
  readonly minVolume: number;
  /** The account first, then configuration sets and identities by name. */
  readonly dimensions: readonly DimensionReport[];
}

export interface ReputationPolicy {
  readonly thresholds: ReputationThresholds;
  /** Recipients a window needs before its rates decide a state. */
  readonly minVolume: number;
}

const rank = (state: ReputationState) => STATE_VALUE[state];
const worst = (states: readonly ReputationState[]): ReputationState =>
  states.reduce<ReputationState>((a, b) => (rank(b) > rank(a) ? b : a), 'ok');

function levelOf(rate: number | null, threshold: Threshold, scale = 1): ReputationState {
  if (rate === null) return 'ok';
  if (rate >= threshold.critical * scale) return 'critical';
  if (rate >= threshold.warn * scale) return 'warn';
  return 'ok';
}

/**
 * The level of one rate given the state it is in: up at once, down only below the lowered
 * threshold (`HYSTERESIS`).
 */
export function rateLevel(
  rate: number | null,
  threshold: Threshold,
  previous: ReputationState,
): ReputationState {
  const raw = levelOf(rate, threshold);
  if (rank(raw) >= rank(previous)) return raw;
  // Lowered thresholds give a level at least as high as the raw one.
  const relieved = levelOf(rate, threshold, 1 - HYSTERESIS);
  return rank(relieved) < rank(previous) ? relieved : previous;
}

export function windowReport(
  window: WindowName,
  counts: ReputationCounts,
  policy: ReputationPolicy,
  previous: ReputationState,
): WindowReport {
  const outcomes = counts.delivery + counts.hardBounce + counts.softBounce;
  const volume = Math.max(counts.send, outcomes);
  const rate = (n: number) => (volume > 0 ? n / volume : null);
  const bounceRate = rate(counts.hardBounce);
  const complaintRate = rate(counts.complaint);
  const enoughVolume = volume > 0 && volume >= policy.minVolume;
  return {
    window,
    counts,
    volume,
    volumeFrom: counts.send >= outcomes ? 'sends' : 'deliveriesAndBounces',
    bounceRate,
    complaintRate,
    enoughVolume,
    state: enoughVolume
      ? worst([
          rateLevel(bounceRate, policy.thresholds.bounce, previous),
          rateLevel(complaintRate, policy.thresholds.complaint, previous),
        ])
      : 'ok',
  };
}

/**
 * Every dimension's report: those with counts in any window, and those whose recorded state is
 * not `ok` (so a dimension whose mail stopped returns to `ok`, and says so).
 */
export function reputationReport(
  countsByWindow: ReadonlyMap<WindowName, ReadonlyMap<string, ReputationCounts>>,
  previousStates: ReadonlyMap<string, ReputationState>,
  policy: ReputationPolicy,
  at: Date,
): ReputationReport {
  const keys = new Set<string>(['account', ...previousStates.keys()]);
  for (const counts of countsByWindow.values()) for (const key of counts.keys()) keys.add(key);
  const dimensions: DimensionReport[] = [];
  for (const key of keys) {
    const dimension = parseDimensionKey(key);
    if (dimension === null) continue;
    const previousState = previousStates.get(key) ?? 'ok';
    const windows = WINDOWS.map(({ name }) =>
      windowReport(name, countsByWindow.get(name)?.get(key) ?? NO_COUNTS, policy, previousState),
    );
    dimensions.push({
      dimension,
      windows,
      state: worst(windows.map((w) => w.state)),
      previousState,
    });
  }
  const order = (d: Dimension) => DIMENSION_TYPES.indexOf(d.type);
  dimensions.sort(
    (a, b) =>
      order(a.dimension) - order(b.dimension) || a.dimension.name.localeCompare(b.dimension.name),
  );
  return {
    at: at.toISOString(),
    thresholds: policy.thresholds,
    minVolume: policy.minVolume,
    dimensions,
  };
}

/**
 * A rate over a sliding window of hours, for each hour: `hourly` oldest first, each the counts
 * of one hour; point i covers hours i-windowHours+1..i. Null where there is no volume.
 */
export function slidingRates(
  hourly: readonly ReputationCounts[],
  windowHours: number,
): { readonly bounceRate: number | null; readonly complaintRate: number | null }[] {
  const points: { bounceRate: number | null; complaintRate: number | null }[] = [];
  let sum = NO_COUNTS;
  hourly.forEach((counts, i) => {
    sum = addCounts(sum, counts);
    const leaving = hourly[i - windowHours];
    if (leaving !== undefined) sum = addCounts(sum, negate(leaving));
    const volume = Math.max(sum.send, sum.delivery + sum.hardBounce + sum.softBounce);
    points.push({
      bounceRate: volume > 0 ? sum.hardBounce / volume : null,
      complaintRate: volume > 0 ? sum.complaint / volume : null,
    });
  });
  return points;
}

function negate(c: ReputationCounts): ReputationCounts {
  return {
    send: -c.send,
    delivery: -c.delivery,
    hardBounce: -c.hardBounce,
    softBounce: -c.softBounce,
    complaint: -c.complaint,
  };
}
