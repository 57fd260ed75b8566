/**
 * Redis connection errors, told once. ioredis reports every failed reconnect and BullMQ repeats
 * it for each connection of its own, so a wrong password (WRONGPASS) or a Redis that is down
 * would fill the log with one line per retry, several a second. Each distinct error is logged
 * once (redacted: `loggableError`), and again only after every connection has been ready since;
 * `/readyz` says meanwhile that it lasts.
 */
import type { Logger } from 'pino';
import { loggableError } from '../domain/redact';

/** Distinct errors logged per outage; past it, one line says the rest are not. */
const MAX_DISTINCT = 10;

export interface RedisConnectionErrors {
  /** An error on the named connection: logged unless the same one was, this outage. */
  error(connection: string, error: unknown): void;
  /** The connection is ready again; once all that failed are, errors are news again. */
  ready(connection: string): void;
}

export function redisConnectionErrors(log: Logger): RedisConnectionErrors {
  const failing = new Set<string>();
  const logged = new Set<string>();
  return {
    error(connection, error) {
      failing.add(connection);
      const err = loggableError(error);
      const key = `${err.code ?? err.name ?? ''} ${err.message}`;
      if (logged.has(key) || logged.size > MAX_DISTINCT) return;
      logged.add(key);
      if (logged.size > MAX_DISTINCT) {
        log.error('more distinct redis connection errors: not logged until Redis is back');
        return;
      }
      const auth = /^(WRONGPASS|NOAUTH)\b/.test(err.message);
      log.error(
        {
          connection,
          err,
          ...(auth
            ? { hint: 'Redis refused the user or password in REDIS_URL or REDIS_CLUSTER_NODES' }
            : {}),
        },
        'redis connection error (retrying; logged once until Redis is back)',
      );
    },
    ready(connection) {
      if (!failing.delete(connection) || failing.size > 0 || logged.size === 0) return;
      logged.clear();
      log.info('redis connection ready again');
    },
  };
}
