/**
 * The integration suites run against both kinds of Redis the worker supports: one server, and
 * a real three-master cluster. `describe.each(REDIS_MODES)` plus `startRedisUnderTest(mode)`
 * gives a suite the same handle for both.
 */
import {
  connectRedis,
  type ConnectionOptions,
  type RedisClient,
  type RedisTarget,
} from '../../adapters/redis/connection';
import { startRedisCluster, type RedisClusterServer } from './redisCluster';
import { startRedis, type RedisServer } from './servers';

export const REDIS_MODES = ['single', 'cluster'] as const;
export type RedisMode = (typeof REDIS_MODES)[number];

export interface RedisUnderTest {
  readonly mode: RedisMode;
  readonly target: RedisTarget;
  /** The worker's variables for it: REDIS_URL, or REDIS_CLUSTER_NODES. */
  readonly env: Readonly<Record<string, string>>;
  /** The cluster's processes, for suites that kill or reshard; null on one server. */
  readonly cluster: RedisClusterServer | null;
  /** The single server, for suites that stop or restart it; null on a cluster. */
  readonly server: RedisServer | null;
  connect(options?: ConnectionOptions): RedisClient;
  /** Empties every master (FLUSHALL), so tests start from nothing. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisUnderTest(mode: RedisMode): Promise<RedisUnderTest> {
  if (mode === 'single') {
    const server = await startRedis();
    const target: RedisTarget = { kind: 'single', url: server.url };
    return {
      mode,
      target,
      env: { REDIS_URL: server.url },
      cluster: null,
      server,
      connect: (options) => connectRedis(target, options),
      async flush() {
        const redis = connectRedis(target, { maxRetriesPerRequest: 1 });
        await redis.flushall();
        redis.disconnect();
      },
      stop: () => server.stop(),
    };
  }
  const cluster = await startRedisCluster();
  return {
    mode,
    target: cluster.target,
    env: { REDIS_CLUSTER_NODES: cluster.seeds },
    cluster,
    server: null,
    connect: (options) => connectRedis(cluster.target, options),
    async flush() {
      for (const master of await cluster.masters()) await cluster.cli(['flushall'], master);
    },
    stop: () => cluster.stop(),
  };
}

/**
 * A Redis of `mode` for the enclosing describe block: started before its tests, stopped after.
 * The object is filled in `beforeAll`; use it inside tests and hooks only.
 */
export function useRedisUnderTest(mode: RedisMode): RedisUnderTest {
  const holder = {} as RedisUnderTest;
  let started: RedisUnderTest | undefined;
  beforeAll(async () => {
    started = await startRedisUnderTest(mode);
    Object.assign(holder, started);
  }, 90_000);
  afterAll(async () => {
    await started?.stop();
  });
  return holder;
}
