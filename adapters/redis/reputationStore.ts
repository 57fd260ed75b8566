/**
 * Reputation windows in Redis, shared by every replica: per-minute and per-hour counts of each
 * dimension's sends, deliveries, bounces and complaints (domain/reputation.ts), the events per
 * minute by kind for the status page, and the last announced state of each dimension.
 *
 * Keys. The counts and the events' first-sight markers are spread over REPUTATION_BUCKETS buckets
 * by event id, bucket b's keys sharing the hash tag `{reputation:b}` (one Redis Cluster slot;
 * sixteen tags fall six, five and five on three evenly split masters). <base> is BULLMQ_PREFIX
 * without braces, <p> the prefix as written:
 *   <base>:{reputation:b}:seen:<eventId>  string, expiring: the event was counted
 *   <base>:{reputation:b}:m:<epoch minute> hash "<dimension>|<metric>" → recipients,
 *                                         "kind|<kind>" → events; expires 7 d 1 h after
 *   <base>:{reputation:b}:h:<epoch hour>  hash  "<dimension>|<metric>" → recipients; 8 d 1 h
 *   <p>:reputation:names:configurationSet zset  the configuration-set names with series, by last use
 *   <p>:reputation:names:identity         zset  the identity domains with series, by last use
 *   <p>:reputation:state                  hash  dimension → warn | critical (absent: ok)
 * The name sets and the states are single keys, as before buckets (their rate is low: a state
 * changes rarely, and a name is looked up once a minute per process); each is used by a script
 * of its own, so their slots do not matter.
 *
 * `record` labels the job's names first (`lua/labelReputationNames.lua`, one call per name set,
 * names this process labelled within the last minute not again), then counts each bucket's
 * events in one script call (`lua/recordReputationEvents.lua`), pipelined per node: an event's
 * marker is set with its counts, so an event is counted exactly once however often it is
 * redelivered (within the marker's lifetime), and a job retried after a crash counts nothing
 * twice. The two steps cannot be one script on a cluster (the name sets are in other slots than
 * the buckets): a name can be taken into its set, or its use noted, for an event that then turns
 * out counted before, or whose count a crash prevents. That only moves when an unused name is
 * forgotten; a place under the cap is taken by a name that is in use either way.
 *
 * The layout before buckets (`<p>:reputation:m:<minute>`, `<p>:reputation:h:<hour>`, markers
 * `<p>:metrics:seen:<eventId>`) is read beside this one until it expires (8 days at most): its
 * counts are summed into every window, and on one server (the only place it can exist) the
 * record script also takes its markers as counted.
 */
import type { ChainableCommander } from 'ioredis';
import { isCluster, keyBase, type RedisClient } from './connection';
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
  REPUTATION_BUCKETS,
  REPUTATION_METRICS,
  REPUTATION_STATES,
  WINDOWS,
  addCounts,
  reputationBucket,
  reputationContribution,
  windowBuckets,
  type ReputationCounts,
  type ReputationMetric,
  type ReputationState,
  type WindowName,
} from '../../domain/reputation';
import { luaScript } from './luaScript';
import { pipelinePerNode } from './pipelinePerNode';

export interface ReputationStoreOptions {
  /** BULLMQ_PREFIX as configured, e.g. `{ses}` (the buckets use it without braces). */
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
  sesWorkerReputationRecord(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
  sesWorkerReputationLabels(key: string, ...args: (string | number)[]): Promise<string[]>;
  sesWorkerReputationState(key: string, dimension: string, state: string): Promise<string | null>;
};

/** A domain label: hostname characters only (counting.ts checks the form; this re-checks). */
const IDENTITY = /^[a-z0-9.-]{1,253}$/;
/** How long this process reuses a name's label before asking the name set again. */
const LABEL_REUSE_MS = 60_000;
/** Labels remembered per name set, at most (past it, the memory starts afresh). */
const LABELS_REMEMBERED = 10_000;

type NameSet = 'configurationSet' | 'identity';

/** An event of `record`, with what its counting needs. */
interface Prepared {
  readonly index: number;
  readonly event: CountedEvent;
  readonly bucket: number;
  readonly minute: number;
  readonly hour: number;
  readonly contribution: ReturnType<typeof reputationContribution>;
  /** The names before labelling: '' for none. */
  readonly configurationSet: string;
  readonly identity: string;
}

export function makeReputationStore(
  redis: RedisClient,
  options: ReputationStoreOptions,
): ReputationStore {
  redis.defineCommand('sesWorkerReputationRecord', { lua: luaScript('recordReputationEvents') });
  redis.defineCommand('sesWorkerReputationLabels', {
    lua: luaScript('labelReputationNames'),
    numberOfKeys: 1,
  });
  redis.defineCommand('sesWorkerReputationState', {
    lua: luaScript('changeReputationState'),
    numberOfKeys: 1,
  });
  const scripted = redis as ScriptedRedis;
  const base = keyBase(options.keyPrefix);
  const bucketKey = (b: number) => `${base}:{reputation:${b}}`;
  const minuteKey = (b: number, minute: number) => `${bucketKey(b)}:m:${minute}`;
  const hourKey = (b: number, hour: number) => `${bucketKey(b)}:h:${hour}`;
  const markerKey = (b: number, eventId: string) => `${bucketKey(b)}:seen:${eventId}`;
  const previous = {
    minuteKey: (minute: number) => `${options.keyPrefix}:reputation:m:${minute}`,
    hourKey: (hour: number) => `${options.keyPrefix}:reputation:h:${hour}`,
    markerKey: (eventId: string) => `${options.keyPrefix}:metrics:seen:${eventId}`,
  };
  const namesKey = (set: NameSet) => `${options.keyPrefix}:reputation:names:${set}`;
  const stateKey = `${options.keyPrefix}:reputation:state`;
  const caps: Record<NameSet, number> = {
    configurationSet: options.maxConfigurationSets,
    identity: options.maxIdentities,
  };
  const remembered: Record<NameSet, Map<string, { label: string; at: number }>> = {
    configurationSet: new Map(),
    identity: new Map(),
  };
  /** On a cluster, the previous layout never existed (its version ran on one server only). */
  const previousMarkers = !isCluster(redis);

  /** Each key's reply to `command`, in order: one pipeline per node, all nodes at once. */
  const perKey = async <T>(
    keys: readonly string[],
    command: (pipeline: ChainableCommander, key: string) => void,
  ): Promise<T[]> =>
    (await pipelinePerNode(
      redis,
      keys.map((key) => ({ key, queue: (pipeline) => command(pipeline, key) })),
    )) as T[];

  /** The label of each distinct name in `names` (none, other and '' stay as they are). */
  const labels = async (
    set: NameSet,
    names: Iterable<string>,
    nowMs: number,
  ): Promise<Map<string, string>> => {
    const memory = remembered[set];
    const result = new Map<string, string>();
    const ask: string[] = [];
    for (const name of new Set(names)) {
      if (name === '' || name === NO_CONFIGURATION_SET || name === OTHER_LABEL) {
        result.set(name, name);
        continue;
      }
      const known = memory.get(name);
      if (known !== undefined && nowMs - known.at < LABEL_REUSE_MS) result.set(name, known.label);
      else ask.push(name);
    }
    if (ask.length === 0) return result;
    const answers = await scripted.sesWorkerReputationLabels(
      namesKey(set),
      caps[set],
      nowMs,
      MINUTE_BUCKET_RETENTION_MS,
      NO_CONFIGURATION_SET,
      OTHER_LABEL,
      ...ask,
    );
    if (memory.size + ask.length > LABELS_REMEMBERED) memory.clear();
    ask.forEach((name, i) => {
      const label = String(answers[i]);
      result.set(name, label);
      memory.set(name, { label, at: nowMs });
    });
    return result;
  };

  /** Hashes of every bucket at each time, plus the previous layout's, summed per field. */
  const summedHashes = async (
    times: readonly number[],
    keyOf: (b: number, time: number) => string,
    previousKeyOf: (time: number) => string,
  ): Promise<Map<number, Map<string, number>>> => {
    const keys: string[] = [];
    const timeOfKey: number[] = [];
    for (const time of times) {
      for (let b = 0; b < REPUTATION_BUCKETS; b++) {
        keys.push(keyOf(b, time));
        timeOfKey.push(time);
      }
      keys.push(previousKeyOf(time));
      timeOfKey.push(time);
    }
    const hashes = await perKey<Record<string, string>>(keys, (pipeline, key) =>
      pipeline.hgetall(key),
    );
    const byTime = new Map<number, Map<string, number>>();
    hashes.forEach((hash, i) => {
      const time = timeOfKey[i]!;
      let fields = byTime.get(time);
      if (fields === undefined) byTime.set(time, (fields = new Map<string, number>()));
      for (const [field, value] of Object.entries(hash)) {
        fields.set(field, (fields.get(field) ?? 0) + Number(value));
      }
    });
    return byTime;
  };

  /** `fields` of every bucket at each time, plus the previous layout's, summed: per time. */
  const summedFields = async (
    times: readonly number[],
    fields: readonly string[],
    keyOf: (b: number, time: number) => string,
    previousKeyOf: (time: number) => string,
  ): Promise<number[][]> => {
    const keys = times.flatMap((time) => [
      ...Array.from({ length: REPUTATION_BUCKETS }, (_, b) => keyOf(b, time)),
      previousKeyOf(time),
    ]);
    const rows = await perKey<(string | null)[]>(keys, (pipeline, key) =>
      pipeline.hmget(key, ...fields),
    );
    const perTime = REPUTATION_BUCKETS + 1;
    return times.map((_, t) =>
      fields.map((_, f) => {
        let sum = 0;
        for (let k = t * perTime; k < (t + 1) * perTime; k++) sum += Number(rows[k]![f] ?? 0);
        return sum;
      }),
    );
  };

  return {
    async record(events, nowMs) {
      if (events.length === 0) return [];
      const prepared: Prepared[] = events.map((event, index) => {
        const at = eventTime(event.at, nowMs);
        const contribution = reputationContribution(event);
        return {
          index,
          event,
          bucket: reputationBucket(event.id),
          minute: Math.floor(at / MINUTE_MS),
          hour: Math.floor(at / HOUR_MS),
          contribution,
          configurationSet: sesName(event.configurationSet) ?? '',
          // Identities are kept for the reputation series only.
          identity: contribution === null ? '' : identityLabel(event.identity),
        };
      });
      const [setLabels, identityLabels] = await Promise.all([
        labels(
          'configurationSet',
          prepared.map((e) => e.configurationSet),
          nowMs,
        ),
        labels(
          'identity',
          prepared.map((e) => e.identity),
          nowMs,
        ),
      ]);
      const labelled = prepared.map((e) => ({
        ...e,
        configurationSet: setLabels.get(e.configurationSet) || NO_CONFIGURATION_SET,
        identity: identityLabels.get(e.identity) ?? '',
      }));

      const byBucket = new Map<number, typeof labelled>();
      for (const e of labelled) {
        const list = byBucket.get(e.bucket);
        if (list) list.push(e);
        else byBucket.set(e.bucket, [e]);
      }
      const fresh = new Array<boolean>(events.length).fill(false);
      const perEvent = previousMarkers ? 4 : 3;
      const buckets = [...byBucket.keys()];
      const replies = await pipelinePerNode(
        redis,
        buckets.map((b) => ({
          key: bucketKey(b),
          queue: (pipeline) => {
            const keys: string[] = [];
            const args: (string | number)[] = [options.markerTtlSeconds, perEvent];
            for (const e of byBucket.get(b)!) {
              keys.push(markerKey(b, e.event.id), minuteKey(b, e.minute), hourKey(b, e.hour));
              if (previousMarkers) keys.push(previous.markerKey(e.event.id));
              args.push(
                e.configurationSet,
                e.identity,
                e.event.kind,
                e.contribution?.metric ?? '',
                e.contribution?.weight ?? 0,
                expiry((e.minute + 1) * MINUTE_MS + MINUTE_BUCKET_RETENTION_MS, nowMs),
                expiry((e.hour + 1) * HOUR_MS + HOUR_BUCKET_RETENTION_MS, nowMs),
              );
            }
            void (pipeline as unknown as ScriptedRedis).sesWorkerReputationRecord(
              keys.length,
              ...keys,
              ...args,
            );
          },
        })),
      );
      replies.forEach((reply, g) => {
        (reply as number[]).forEach((counted, i) => {
          if (counted === 1) fresh[byBucket.get(buckets[g]!)![i]!.index] = true;
        });
      });
      return labelled.map((e) =>
        fresh[e.index]
          ? {
              fresh: true,
              configurationSet: e.configurationSet,
              identity: e.identity === '' ? null : e.identity,
            }
          : { fresh: false, configurationSet: '', identity: null },
      );
    },

    async windowCounts(nowMs) {
      const endMinute = Math.floor(nowMs / MINUTE_MS);
      const plans = WINDOWS.map((w) => ({ name: w.name, ...windowBuckets(endMinute, w.minutes) }));
      const [minutes, hours] = await Promise.all([
        summedHashes(
          [...new Set(plans.flatMap((plan) => plan.minutes))],
          minuteKey,
          previous.minuteKey,
        ),
        summedHashes([...new Set(plans.flatMap((plan) => plan.hours))], hourKey, previous.hourKey),
      ]);
      const result = new Map<WindowName, Map<string, ReputationCounts>>();
      for (const plan of plans) {
        const counts = new Map<string, ReputationCounts>();
        const hashes = [
          ...plan.minutes.map((m) => minutes.get(m)),
          ...plan.hours.map((h) => hours.get(h)),
        ];
        for (const hash of hashes) {
          for (const [field, value] of hash ?? []) {
            const split = field.lastIndexOf('|');
            const dimension = field.slice(0, split);
            const metric = field.slice(split + 1);
            if (dimension === 'kind' || !isMetric(metric)) continue;
            const one = { ...NO_COUNTS, [metric]: value };
            counts.set(dimension, addCounts(counts.get(dimension) ?? NO_COUNTS, one));
          }
        }
        result.set(plan.name, counts);
      }
      return result;
    },

    async accountHourly(nowMs, hours) {
      const last = Math.floor(nowMs / HOUR_MS);
      const times = Array.from({ length: hours }, (_, i) => last - hours + 1 + i);
      const fields = REPUTATION_METRICS.map((m) => `account|${m}`);
      return (await summedFields(times, fields, hourKey, previous.hourKey)).map((values) =>
        Object.fromEntries(REPUTATION_METRICS.map((m, i) => [m, values[i] ?? 0])),
      ) as unknown as ReputationCounts[];
    },

    async eventsPerMinute(nowMs, minutes) {
      const startMinute = Math.floor(nowMs / MINUTE_MS) - minutes + 1;
      const times = Array.from({ length: minutes }, (_, i) => startMinute + i);
      const rows = await summedFields(
        times,
        DOMAIN_EVENT_KINDS.map((kind) => `kind|${kind}`),
        minuteKey,
        previous.minuteKey,
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
      const previousState = await scripted.sesWorkerReputationState(stateKey, dimensionKey, state);
      return previousState === null
        ? null
        : (REPUTATION_STATES as readonly string[]).includes(previousState)
          ? (previousState as ReputationState)
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
