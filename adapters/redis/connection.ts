/**
 * One way to connect to Redis, whether it is one server (`REDIS_URL`) or a Redis Cluster
 * (`REDIS_CLUSTER_NODES`): every part of the worker takes a `RedisClient` and builds its
 * connection here, so none of them knows which of the two it talks to.
 *
 * On a cluster, a pipeline may only hold keys served by one node, and a script only keys of one
 * slot. `byNode` splits work by the node that serves each key; `waitForReplicas` asks exactly the
 * masters that were written to whether their replicas hold the writes.
 */
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

export interface ClusterSeed {
  readonly host: string;
  readonly port: number;
}

export type RedisTarget =
  | { readonly kind: 'single'; readonly url: string }
  | {
      readonly kind: 'cluster';
      readonly seeds: readonly ClusterSeed[];
      /** From the seeds' `rediss://`: TLS to every node, checked against the node's host name. */
      readonly tls: boolean;
      readonly username: string | null;
      readonly password: string | null;
      /** Node addresses as the cluster announces them → where this process reaches them. */
      readonly natMap: Readonly<Record<string, ClusterSeed>> | null;
    };

/** What each connection of the worker asks for; the same on one server or a cluster. */
export interface ConnectionOptions {
  /** False: a command fails at once while disconnected (producers), instead of queueing. */
  readonly enableOfflineQueue?: boolean;
  /** Null: a command waits out a disconnection (BullMQ workers need this). */
  readonly maxRetriesPerRequest?: number | null;
  readonly lazyConnect?: boolean;
  readonly connectTimeout?: number;
  /** For one-shot probes: give up instead of reconnecting. */
  readonly noReconnect?: boolean;
}

export function connectRedis(target: RedisTarget, options: ConnectionOptions = {}): RedisClient {
  if (target.kind === 'single') return new Redis(target.url, singleOptions(options));
  return new Cluster(
    target.seeds.map((seed) => ({ host: seed.host, port: seed.port })),
    clusterOptions(target, options),
  );
}

function singleOptions(options: ConnectionOptions): RedisOptions {
  return {
    ...(options.enableOfflineQueue === undefined
      ? {}
      : { enableOfflineQueue: options.enableOfflineQueue }),
    ...(options.maxRetriesPerRequest === undefined
      ? {}
      : { maxRetriesPerRequest: options.maxRetriesPerRequest }),
    ...(options.lazyConnect === undefined ? {} : { lazyConnect: options.lazyConnect }),
    ...(options.connectTimeout === undefined ? {} : { connectTimeout: options.connectTimeout }),
    ...(options.noReconnect === true ? { retryStrategy: () => null } : {}),
  };
}

function clusterOptions(
  target: Extract<RedisTarget, { kind: 'cluster' }>,
  options: ConnectionOptions,
): ClusterOptions {
  const { lazyConnect, enableOfflineQueue, noReconnect, ...perNode } = options;
  return {
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(lazyConnect === undefined ? {} : { lazyConnect }),
    ...(noReconnect === true ? { clusterRetryStrategy: () => null } : {}),
    // A node that restarts without a slot change (a replica, a master back after a failover)
    // is reconnected; ioredis would otherwise wait for a MOVED to rediscover it.
    clusterNodeRetryStrategy:
      noReconnect === true ? () => null : (times) => Math.min(times * 100, 2000),
    // Managed clusters (ElastiCache, MemoryDB) announce host names whose TLS certificates name
    // them: connect by that name rather than a resolved IP, so the certificate check holds.
    ...(target.tls ? { dnsLookup: (address, done) => done(null, address) } : {}),
    ...(target.natMap === null
      ? {}
      : {
          natMap: Object.fromEntries(
            Object.entries(target.natMap).map(([from, to]) => [
              from,
              { host: to.host, port: to.port },
            ]),
          ),
        }),
    // A failover takes a few seconds (cluster-node-timeout, then the election): retry across it.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 100,
    redisOptions: {
      ...(perNode.maxRetriesPerRequest === undefined
        ? {}
        : { maxRetriesPerRequest: perNode.maxRetriesPerRequest }),
      ...(perNode.connectTimeout === undefined ? {} : { connectTimeout: perNode.connectTimeout }),
      ...(target.username === null ? {} : { username: target.username }),
      ...(target.password === null ? {} : { password: target.password }),
      ...(target.tls ? { tls: {} } : {}),
    },
  };
}

export const isCluster = (redis: RedisClient): redis is Cluster => redis instanceof Cluster;

/**
 * The connections that hold data: a single server itself, or a cluster's masters. A cluster
 * client knows its masters only once ready; a first command waits for that (or fails, on a
 * connection without an offline queue), so an early caller never sees an empty cluster.
 */
export async function masterNodes(redis: RedisClient): Promise<Redis[]> {
  if (!isCluster(redis)) return [redis];
  if (redis.status !== 'ready') await redis.ping();
  return redis.nodes('master');
}

/**
 * Splits `items` by the node that serves each one's key: one group per node on a cluster (each
 * group fits one pipeline), one group of all on a single server. An item whose slot has no
 * known owner yet (topology still loading) forms a group of its own; ioredis routes it.
 */
export function byNode<T>(
  redis: RedisClient,
  items: readonly T[],
  keyOf: (item: T) => string,
): T[][] {
  if (!isCluster(redis)) return items.length === 0 ? [] : [[...items]];
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const owners = redis.slots[calculateSlot(keyOf(item))];
    const group =
      owners === undefined || owners.length === 0 ? `?${keyOf(item)}` : owners.join(';');
    const list = groups.get(group);
    if (list) list.push(item);
    else groups.set(group, [item]);
  }
  return [...groups.values()];
}

/** A single server, or the master connection of a cluster that serves `key`. */
export function connectionFor(redis: RedisClient, key: string): Redis | null {
  if (!isCluster(redis)) return redis;
  const owner = redis.slots[calculateSlot(key)]?.[0];
  if (owner === undefined) return null;
  return (
    redis.nodes('master').find((node) => `${node.options.host}:${node.options.port}` === owner) ??
    null
  );
}

export interface ReplicasAck {
  /** REDIS_MIN_REPLICAS_ACK; 0 turns the wait off. */
  readonly replicas: number;
  readonly timeoutMs: number;
}

export class ReplicationError extends Error {
  override readonly name = 'ReplicationError';
}

/**
 * Waits until `ack.replicas` replicas of every master that serves one of `keys` hold this
 * client's writes so far (Redis's WAIT, sent on the same connection the writes went through:
 * WAIT counts that connection's writes). Throws a `ReplicationError` when fewer confirm within
 * the timeout or a master cannot be found: the caller must then treat its writes as not durable
 * (leave the SQS messages, fail the job) so they are redone.
 */
export async function waitForReplicas(
  redis: RedisClient,
  keys: readonly string[],
  ack: ReplicasAck,
): Promise<void> {
  if (ack.replicas <= 0 || keys.length === 0) return;
  const masters = new Set<Redis>();
  for (const key of keys) {
    const master = connectionFor(redis, key);
    if (master === null) throw new ReplicationError(`no master known for a written slot`);
    masters.add(master);
  }
  await Promise.all(
    [...masters].map(async (master) => {
      const confirmed = await master.wait(ack.replicas, ack.timeoutMs);
      if (confirmed < ack.replicas) {
        throw new ReplicationError(
          `${confirmed} of ${ack.replicas} replicas confirmed the writes within ${ack.timeoutMs} ms`,
        );
      }
    }),
  );
}

/**
 * The configured prefix without braces (`{ses}` → `ses`). The prefix used to be one hash tag for
 * everything; now each key family brings its own tag (a queue, a bucket), after this base.
 */
export const keyBase = (prefix: string): string => prefix.replace(/[{}]/g, '');

/**
 * Every key matching `pattern` on every master (SCAN sees one node's keys only), deleted one key
 * per command: a multi-key DEL across slots is refused on a cluster. For cleaning up (the demo,
 * tests); returns how many were deleted.
 */
export async function deleteMatching(redis: RedisClient, pattern: string): Promise<number> {
  let deleted = 0;
  for (const node of await masterNodes(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      if (keys.length > 0) {
        const pipeline = node.pipeline();
        for (const key of keys) pipeline.del(key);
        await pipeline.exec();
        deleted += keys.length;
      }
      cursor = next;
    } while (cursor !== '0');
  }
  return deleted;
}
