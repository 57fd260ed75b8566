/**
 * Many single-key commands in as few round trips as the servers allow: one pipeline per node
 * that serves their keys (`byNode`), the nodes' pipelines all at once. On a single server that
 * is one pipeline; on a cluster, one per master, since a cluster pipeline may only hold keys of
 * one node.
 *
 * After a reshard or a failover, the client's slot map may be out of date, and a node answers
 * MOVED (or ASK, while a slot's keys move) for keys it no longer serves. ioredis follows such a
 * redirection for a command sent alone, but not inside a pipeline whose commands were redirected
 * to different slots, and it does not then update its map; when they were all redirected alike,
 * it moves that one slot in its map and fails the pipeline if the rest now belongs elsewhere.
 * Either way the redirected commands did not run (and ioredis only sends a pipeline again when
 * every command that ran was a read): they are sent again, regrouped, once the map is refreshed.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { ChainableCommander } from 'ioredis';
import { byNode, isCluster, type RedisClient } from './connection';

export interface KeyedCommand {
  /** The key that decides which node runs it. */
  readonly key: string;
  /** Adds exactly one command, on `key`, to the pipeline. */
  readonly queue: (pipeline: ChainableCommander) => unknown;
}

/** Rounds of sending before a redirection is an error; a slot's keys move in milliseconds. */
const REDIRECTION_ROUNDS = 5;
const REDIRECTION_PAUSE_MS = 50;

const isRedirection = (error: Error): boolean => /^(MOVED|ASK) /.test(error.message);
/** ioredis's refusal to send again a pipeline whose keys a redirection split over nodes. */
const isSplitByRedirection = (error: unknown): boolean =>
  error instanceof Error && /same slots allocation group/.test(error.message);

/** The commands' replies, in the commands' order; the first error is thrown. */
export async function pipelinePerNode(
  redis: RedisClient,
  commands: readonly KeyedCommand[],
): Promise<unknown[]> {
  const replies = new Array<unknown>(commands.length);
  let pending = commands.map((command, at) => ({ command, at }));
  for (let round = 1; pending.length > 0; round++) {
    const redirected: typeof pending = [];
    await Promise.all(
      byNode(redis, pending, ({ command }) => command.key).map(async (group) => {
        const pipeline = redis.pipeline();
        for (const { command } of group) command.queue(pipeline);
        let results: [Error | null, unknown][];
        try {
          results = (await pipeline.exec()) ?? [];
        } catch (error) {
          if (!isSplitByRedirection(error) || round >= REDIRECTION_ROUNDS) throw error;
          redirected.push(...group);
          return;
        }
        group.forEach((item, i) => {
          const [error, value] = results[i] ?? [new Error('no reply from the pipeline'), null];
          if (error === null) replies[item.at] = value;
          else if (isRedirection(error) && round < REDIRECTION_ROUNDS) redirected.push(item);
          else throw error;
        });
      }),
    );
    if (redirected.length > 0 && isCluster(redis)) {
      await new Promise<void>((done) => redis.refreshSlotsCache(() => done()));
      await delay(REDIRECTION_PAUSE_MS * (round - 1));
    }
    pending = redirected;
  }
  return replies;
}
