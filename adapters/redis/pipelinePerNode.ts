/**
 * Many single-key commands in as few round trips as the servers allow: one pipeline per node
 * that serves their keys (`byNode`), the nodes' pipelines all at once. On a single server that
 * is one pipeline; on a cluster, one per master, since a cluster pipeline may only hold keys of
 * one node.
 */
import type { ChainableCommander } from 'ioredis';
import { byNode, type RedisClient } from './connection';
import { replyValues } from './pipelineReplies';

export interface KeyedCommand {
  /** The key that decides which node runs it. */
  readonly key: string;
  /** Adds exactly one command, on `key`, to the pipeline. */
  readonly queue: (pipeline: ChainableCommander) => unknown;
}

/** The commands' replies, in the commands' order; the first error is thrown. */
export async function pipelinePerNode(
  redis: RedisClient,
  commands: readonly KeyedCommand[],
): Promise<unknown[]> {
  const replies = new Array<unknown>(commands.length);
  const positions = commands.map((command, at) => ({ command, at }));
  await Promise.all(
    byNode(redis, positions, ({ command }) => command.key).map(async (group) => {
      const pipeline = redis.pipeline();
      for (const { command } of group) command.queue(pipeline);
      replyValues(await pipeline.exec()).forEach((reply, i) => (replies[group[i]!.at] = reply));
    }),
  );
  return replies;
}
