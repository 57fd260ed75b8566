/**
 * Reputation windows in Redis, shared by every replica: per-minute and per-hour counts of each
 * dimension's sends, deliveries, bounces and complaints (domain/reputation.ts), the events per
 * minute by kind for the status page, and the last announced state of each dimension.
 *
 * Keys (all under the BullMQ prefix, whose `{hash tag}` keeps them in one Redis Cluster slot):
 *   <p>:metrics:seen:<eventId>             string, expiring: the event was counted
 *   <p>:reputation:m:<epoch minute>        hash  "<dimension>|<metric>" → recipients,
 *                                                "kind|<kind>" → events; expires 7 d 1 h after
 *   <p>:reputation:h:<epoch hour>          hash  "<dimension>|<metric>" → recipients; 8 d 1 h
 *   <p>:reputation:names:configurationSet  zset  the configuration-set names with series, by last use
 *   <p>:reputation:names:identity          zset  the identity domains with series, by last use
 *   <p>:reputation:state                   hash  dimension → warn | critical (absent: ok)
 *
 * `record` runs as one Lua script per metrics job (`lua/recordReputationEvents.lua`; a state
 * change is `lua/changeReputationState.lua`): each event's first-sight marker is set with
 * its counts, so an event is counted exactly once however often it is redelivered (within the
 * marker's lifetime), and a job retried after a crash counts nothing twice. The name sets cap
 * the dimensions globally (the same names on every replica), and forget a name unused for as
 * long as buckets live.
 */
import type { RedisClient } from './connection';
import { DOMAIN_EVENT_KINDS, type DomainEventKind } from '../../domain/events';
import type { CountedEvent } from '../../domain/jobs';
import { OTHER_LABEL, NO_CONFIGURATION_SET } from '../../domain/labels';
import { sesName } from '../../domain/metricLabels';
import {
  HOUR_BUCKET_RETENTION_MS,
  HOUR_MS,
  MINUTE_BUCKET_RETENTION_MS,
  MINUTE_MS,
  NO_COUNTS,
  REPUTATION_METRICS,
  REPUTATION_STATES,
  WINDOWS,
  addCounts,
  reputationContribution,
  windowBuckets,
  type ReputationCounts,
  type ReputationMetric,
  type ReputationState,
  type WindowName,
} from '../../domain/reputation';
import { luaScript } from './luaScript';

export interface ReputationStoreOptions {
  /** The BullMQ prefix, e.g. `{ses}`. */
  readonly keyPrefix: string;
  /** How long an event id is remembered (METRICS_DEDUPE_SECONDS). */
  readonly markerTtlSeconds: number;
  readonly maxConfigurationSets: number;
  readonly maxIdentities: number;
}

/** One event of `record`'s input, in order. Labels are set for fresh events only. */
export interface RecordedEvent {
  /** First sighting: count it. False: counted before (a redelivery, another replica). */
  readonly fresh: boolean;
  /** The configuration set's label: its name, `none`, or `other` past the cap. */
  readonly configurationSet: string;
  /** The identity's label, or null when the event has none. */
  readonly identity: string | null;
}

export interface EventsPerMinute {
  /** Epoch minute of the first point. */
  readonly startMinute: number;
  /** Per kind, events per minute, oldest first; kinds without any event are left out. */
  readonly kinds: ReadonlyMap<DomainEventKind, readonly number[]>;
}

export interface ReputationStore {
  /** Marks the events and adds the fresh ones to the buckets, atomically, in one round trip. */
  record(events: readonly CountedEvent[], nowMs: number): Promise<RecordedEvent[]>;
  /** Each window's counts per dimension key, for windows ending at `nowMs`. */
  windowCounts(nowMs: number): Promise<Map<WindowName, Map<string, ReputationCounts>>>;
  /** The account's counts per hour for the `hours` hours ending with the current one. */
  accountHourly(nowMs: number, hours: number): Promise<ReputationCounts[]>;
  eventsPerMinute(nowMs: number, minutes: number): Promise<EventsPerMinute>;
  /** The recorded states that are not `ok`, by dimension key. */
  states(): Promise<Map<string, ReputationState>>;
  /**
   * Records a dimension's state; returns the previous one if this call changed it, else null.
   * Atomic: of replicas seeing the same change, exactly one is told about it.
   */
  changeState(dimensionKey: string, state: ReputationState): Promise<ReputationState | null>;
}

type ScriptedRedis = RedisClient & {
  sesWorkerReputationRecord(numKeys: number, ...args: (string | number)[]): Promise<unknown[]>;
  sesWorkerReputationState(key: string, dimension: string, state: string): Promise<string | null>;
};

/** A domain label: hostname characters only (counting.ts checks the form; this re-checks). */
const IDENTITY = /^[a-z0-9.-]{1,253}$/;

export function makeReputationStore(
  redis: RedisClient,
  options: ReputationStoreOptions,
): ReputationStore {
  redis.defineCommand('sesWorkerReputationRecord', { lua: luaScript('recordReputationEvents') });
  redis.defineCommand('sesWorkerReputationState', {
    lua: luaScript('changeReputationState'),
    numberOfKeys: 1,
  });
  const scripted = redis as ScriptedRedis;
  const p = `${options.keyPrefix}:reputation`;
  const minuteKey = (minute: number) => `${p}:m:${minute}`;
  const hourKey = (hour: number) => `${p}:h:${hour}`;
  const stateKey = `${p}:state`;

  const hashes = async (keys: readonly string[]): Promise<Record<string, string>[]> => {
    if (keys.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.hgetall(key);
    return ((await pipeline.exec()) ?? []).map(([error, value]) => {
      if (error) throw error;
      return value as Record<string, string>;
    });
  };
  const fieldValues = async (
    keys: readonly string[],
    fields: readonly string[],
  ): Promise<number[][]> => {
    if (keys.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.hmget(key, ...fields);
    return ((await pipeline.exec()) ?? []).map(([error, value]) => {
      if (error) throw error;
      return (value as (string | null)[]).map((v) => (v === null ? 0 : Number(v)));
    });
  };

  return {
    async record(events, nowMs) {
      if (events.length === 0) return [];
      const keys = [`${p}:names:configurationSet`, `${p}:names:identity`];
      const args: (string | number)[] = [
        options.markerTtlSeconds,
        options.maxConfigurationSets,
        options.maxIdentities,
        nowMs,
        MINUTE_BUCKET_RETENTION_MS,
        // The labels the script must never store as names: the domain's, passed in.
        NO_CONFIGURATION_SET,
        OTHER_LABEL,
      ];
      for (const event of events) {
        const at = eventTime(event.at, nowMs);
        const minute = Math.floor(at / MINUTE_MS);
        const hour = Math.floor(at / HOUR_MS);
        keys.push(
          `${options.keyPrefix}:metrics:seen:${event.id}`,
          minuteKey(minute),
          hourKey(hour),
        );
        const contribution = reputationContribution(event);
        args.push(
          sesName(event.configurationSet) ?? '',
          identityLabel(event.identity),
          event.kind,
          contribution?.metric ?? '',
          contribution?.weight ?? 0,
          expiry((minute + 1) * MINUTE_MS + MINUTE_BUCKET_RETENTION_MS, nowMs),
          expiry((hour + 1) * HOUR_MS + HOUR_BUCKET_RETENTION_MS, nowMs),
        );
      }
      const reply = await scripted.sesWorkerReputationRecord(keys.length, ...keys, ...args);
      return events.map((_, i) => {
        const identity = String(reply[i * 3 + 2]);
        return {
          fresh: reply[i * 3] === 1,
          configurationSet: String(reply[i * 3 + 1]),
          identity: identity === '' ? null : identity,
        };
      });
    },

    async windowCounts(nowMs) {
      const endMinute = Math.floor(nowMs / MINUTE_MS);
      const plans = WINDOWS.map((w) => ({ name: w.name, ...windowBuckets(endMinute, w.minutes) }));
      const keys = [
        ...new Set(
          plans.flatMap((plan) => [...plan.minutes.map(minuteKey), ...plan.hours.map(hourKey)]),
        ),
      ];
      const byKey = new Map<string, Record<string, string>>();
      (await hashes(keys)).forEach((hash, i) => byKey.set(keys[i]!, hash));
      const result = new Map<WindowName, Map<string, ReputationCounts>>();
      for (const plan of plans) {
        const counts = new Map<string, ReputationCounts>();
        for (const key of [...plan.minutes.map(minuteKey), ...plan.hours.map(hourKey)]) {
          for (const [field, value] of Object.entries(byKey.get(key) ?? {})) {
            const split = field.lastIndexOf('|');
            const dimension = field.slice(0, split);
            const metric = field.slice(split + 1);
            if (dimension === 'kind' || !isMetric(metric)) continue;
            const one = { ...NO_COUNTS, [metric]: Number(value) };
            counts.set(dimension, addCounts(counts.get(dimension) ?? NO_COUNTS, one));
          }
        }
        result.set(plan.name, counts);
      }
      return result;
    },

    async accountHourly(nowMs, hours) {
      const last = Math.floor(nowMs / HOUR_MS);
      const keys = Array.from({ length: hours }, (_, i) => hourKey(last - hours + 1 + i));
      const fields = REPUTATION_METRICS.map((m) => `account|${m}`);
      return (await fieldValues(keys, fields)).map((values) =>
        Object.fromEntries(REPUTATION_METRICS.map((m, i) => [m, values[i] ?? 0])),
      ) as unknown as ReputationCounts[];
    },

    async eventsPerMinute(nowMs, minutes) {
      const startMinute = Math.floor(nowMs / MINUTE_MS) - minutes + 1;
      const keys = Array.from({ length: minutes }, (_, i) => minuteKey(startMinute + i));
      const rows = await fieldValues(
        keys,
        DOMAIN_EVENT_KINDS.map((kind) => `kind|${kind}`),
      );
      const kinds = new Map<DomainEventKind, number[]>();
      DOMAIN_EVENT_KINDS.forEach((kind, k) => {
        const series = rows.map((row) => row[k] ?? 0);
        if (series.some((n) => n > 0)) kinds.set(kind, series);
      });
      return { startMinute, kinds };
    },

    async states() {
      const hash = await redis.hgetall(stateKey);
      const states = new Map<string, ReputationState>();
      for (const [key, value] of Object.entries(hash)) {
        if ((REPUTATION_STATES as readonly string[]).includes(value))
          states.set(key, value as ReputationState);
      }
      return states;
    },

    async changeState(dimensionKey, state) {
      const previous = await scripted.sesWorkerReputationState(stateKey, dimensionKey, state);
      return previous === null
        ? null
        : (REPUTATION_STATES as readonly string[]).includes(previous)
          ? (previous as ReputationState)
          : 'ok';
    },
  };
}

const isMetric = (text: string): text is ReputationMetric =>
  (REPUTATION_METRICS as readonly string[]).includes(text);

/** '' for none (also in a job queued before identities were counted). */
function identityLabel(identity: string | null | undefined): string {
  if (typeof identity !== 'string') return '';
  return IDENTITY.test(identity) ? identity : OTHER_LABEL;
}

/** When the event happened: its own time, never later than now; now when it has none. */
function eventTime(at: string | null, nowMs: number): number {
  const parsed = at === null ? NaN : Date.parse(at);
  return Number.isFinite(parsed) ? Math.min(parsed, nowMs) : nowMs;
}

/** EXPIREAT seconds for a bucket kept until `untilMs`; 0 when that has passed. */
function expiry(untilMs: number, nowMs: number): number {
  return untilMs > nowMs ? Math.ceil(untilMs / 1000) : 0;
}
