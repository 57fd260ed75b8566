/** One-shot reachability check, for commands that should not start without Redis. */
import { Redis } from 'ioredis';

/** Null when Redis answers PING at `url`; otherwise why not, in a few words. */
export async function redisUnreachable(url: string, timeoutMs = 2000): Promise<string | null> {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  // connect() rejects with a generic "Connection is closed."; the socket's error says why.
  let cause: string | null = null;
  redis.on('error', (error: Error) => (cause ??= error.message));
  try {
    await redis.connect();
    await redis.ping();
    return null;
  } catch (error) {
    return cause ?? (error instanceof Error ? error.message : String(error));
  } finally {
    redis.disconnect();
  }
}

export const HOW_TO_START_REDIS =
  'start one with `redis-server` (Debian: apt-get install -y redis-server) or `docker run -p 6379:6379 redis:7`, or set REDIS_URL';
