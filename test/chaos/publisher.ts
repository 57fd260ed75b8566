/**
 * Publishing at a steady rate while faults strike on a schedule: the schedule holds publishing a
 * little ahead of the next fault, so that every fault strikes while messages flow.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { PublishBatchCommand, type SNSClient } from '@aws-sdk/client-sns';

const PUBLISH_LANES = 2;
/** How far (a share of all) publishing may run ahead of a fault that has not struck yet. */
const PUBLISH_AHEAD = 0.03;

/**
 * Publishes through the topic at no more than `rate` per second, counting as it goes, and never
 * past `limit`.
 */
export class Publisher {
  published = 0;
  limit = Infinity;
  private readonly since = performance.now();
  private paced = 0;

  constructor(
    private readonly sns: SNSClient,
    private topicArn: string,
    private readonly rate: number,
  ) {}

  retarget(topicArn: string): void {
    this.topicArn = topicArn;
  }

  async publish(bodies: readonly string[]): Promise<void> {
    let next = 0;
    const lane = async () => {
      while (next < bodies.length) {
        while (this.paced >= this.limit) await delay(20);
        const batch = bodies.slice(next, (next += 10));
        this.paced += batch.length;
        const due = this.since + (this.paced / this.rate) * 1000;
        if (due > performance.now()) await delay(due - performance.now());
        const result = await this.sns.send(
          new PublishBatchCommand({
            TopicArn: this.topicArn,
            PublishBatchRequestEntries: batch.map((Message, i) => ({ Id: String(i), Message })),
          }),
        );
        if ((result.Failed ?? []).length > 0)
          throw new Error(`publish failed: ${JSON.stringify(result.Failed)}`);
        this.published += batch.length;
      }
    };
    await Promise.all(Array.from({ length: PUBLISH_LANES }, lane));
  }
}

/**
 * A fault, struck once `share` of `total` is published. It calls `publishOn` when publishing
 * should flow again while it works (a kill that waits for a batch, a failover that takes
 * seconds); publishing then runs up to the next fault's mark, not past it.
 */
export type ScheduledFault = readonly [
  share: number,
  strike: (publishOn: () => void) => Promise<void>,
];

/** Strikes each fault in turn as publishing reaches its share; publishing runs alongside. */
export async function runSchedule(
  publisher: Publisher,
  total: number,
  schedule: readonly ScheduledFault[],
): Promise<void> {
  /** Publishing may run a little ahead of the schedule's i-th fault, not further. */
  const limitBefore = (i: number) =>
    i < schedule.length ? Math.ceil((schedule[i]![0] + PUBLISH_AHEAD) * total) : Infinity;
  for (const [i, [share, strike]] of schedule.entries()) {
    publisher.limit = limitBefore(i);
    while (publisher.published < share * total) await delay(20);
    await strike(() => (publisher.limit = limitBefore(i + 1)));
  }
  publisher.limit = Infinity;
}
