/** One-shot reachability check, for commands that should not start without Redis. */
import { connectRedis, type RedisTarget } from './connection';

/** Null when Redis (every slot, on a cluster) answers PING; otherwise why not, in a few words. */
export async function redisUnreachable(
  target: RedisTarget,
  timeoutMs = 2000,
): Promise<string | null> {
  const redis = connectRedis(target, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    noReconnect: true,
  });
  // connect() rejects with a generic "Connection is closed."; the socket's error says why.
  let cause: string | null = null;
  redis.on('error', (error: Error) => (cause ??= error.message));
  try {
    await Promise.race([
      (async () => {
        await redis.connect();
        await redis.ping();
      })(),
      new Promise((_, reject) =>
        setTimeout(
          () => reject(new Error(`no answer within ${timeoutMs} ms`)),
          timeoutMs * 2,
        ).unref(),
      ),
    ]);
    return null;
  } catch (error) {
    return cause ?? (error instanceof Error ? error.message : String(error));
  } finally {
    redis.disconnect();
  }
}

export const HOW_TO_START_REDIS =
  'start one with `redis-server` (Debian: apt-get install -y redis-server) or `docker run -p 6379:6379 redis:7`, or set REDIS_URL (one server) or REDIS_CLUSTER_NODES (a cluster)';
