/**
 * SQS's size limits on the emulator (fauxqs enforces both: a batch request over 1 MiB is refused
 * whole with BatchRequestTooLong, and a message over its queue's MaximumMessageSize is refused).
 * Ten 150 KB poison bodies from one batch must all reach the DLQ with their error, and replay
 * must move them, and one at the 256 KiB limit, back.
 */
import type { Message } from '@aws-sdk/client-sqs';
import { createSesTopology } from '../../adapters/emulator/topology';
import { moveDeadLetters } from '../../adapters/sqs/deadLetterMover';
import { sendToDeadLetterQueue } from '../../adapters/sqs/messages';
import { MAX_MESSAGE_BYTES } from '../../domain/sqsSize';
import { useServers } from '../support/environment';
import { drainVisible } from '../support/sqs';

const servers = useServers();

const poisonOf = (body: string, i: number) => ({
  message: { MessageId: `m-${i}`, Body: body, MessageAttributes: {} } satisfies Message,
  error: 'decode' as const,
  reason: 'notJson',
  path: '',
  text: 'at the top level: expected JSON text, got string "x…"',
});

it('dead-letters ten 150 KB bodies of one batch, and replays them with one at the size limit', async () => {
  const t = await createSesTopology(servers.sqs, servers.sns, { name: 'sqs-limits' });
  const bodies = Array.from({ length: 10 }, (_, i) => `${i}`.padEnd(150_000, 'x'));
  const failed = await sendToDeadLetterQueue(servers.sqs, t.dlqUrl, bodies.map(poisonOf));
  expect([...failed.values()]).toEqual([]);

  const atLimit = poisonOf('L'.padEnd(MAX_MESSAGE_BYTES - 1, 'y'), 10);
  expect(await sendToDeadLetterQueue(servers.sqs, t.dlqUrl, [atLimit])).toEqual(new Map());

  const outcomes: string[] = [];
  const report = await moveDeadLetters({
    sqs: servers.sqs,
    from: t.dlqUrl,
    to: t.queueUrl,
    runId: 'run-limits',
    select: (letter) => letter.error === 'decode',
    maxSelected: null,
    batchSize: 10,
    visibilityTimeoutSeconds: 60,
    waitTimeSeconds: 0,
    signal: new AbortController().signal,
    onOutcome: (_letter, outcome, detail) =>
      outcomes.push(`${outcome}${detail ? `: ${detail}` : ''}`),
  });
  expect(report.end).toBe('empty');
  expect(outcomes).toEqual(Array(11).fill('moved'));
  const moved = await drainVisible(servers.sqs, t.queueUrl);
  expect(moved.map((m) => m.Body?.length).sort()).toEqual(
    [...bodies, atLimit.message.Body].map((b) => b.length).sort(),
  );
});
