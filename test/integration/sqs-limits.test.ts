/**
 * SQS's size limits on the emulator (fauxqs enforces both: a batch request over 1 MiB is refused
 * whole with BatchRequestTooLong, and a message over its queue's MaximumMessageSize is refused).
 * Ten 150 KB poison bodies from one batch must all reach the DLQ with their error, and replay
 * must move them, and one at the 256 KiB limit, back.
 */
import { CreateQueueCommand, type Message } from '@aws-sdk/client-sqs';
import { createSesTopology } from '../../adapters/emulator/topology';
import { moveDeadLetters } from '../../adapters/sqs/deadLetterMover';
import {
  ERROR_ATTRIBUTES,
  queueMessageSizeLimit,
  REPLAY_ATTRIBUTE,
  sendToDeadLetterQueue,
} from '../../adapters/sqs/messages';
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

it('fits attributes to the queues’ own MaximumMessageSize: 1 MiB queues keep every error attribute and the replay mark', async () => {
  const create = async (name: string) =>
    (
      await servers.sqs.send(
        new CreateQueueCommand({
          QueueName: `${name}-${Date.now()}`,
          Attributes: { MaximumMessageSize: String(1_048_576) },
        }),
      )
    ).QueueUrl!;
  const [source, dlq] = [await create('large-source'), await create('large-dlq')];
  const limit = await queueMessageSizeLimit(servers.sqs, dlq);
  expect(limit).toBe(1_048_576);
  // Over 256 KiB: under the old assumption only `ses-worker.error` would have fitted.
  const poison = poisonOf('B'.padEnd(400_000, 'z'), 20);
  expect(await sendToDeadLetterQueue(servers.sqs, dlq, [poison], limit)).toEqual(new Map());
  const [dead] = await drainVisible(servers.sqs, dlq);
  expect(Object.keys(dead!.MessageAttributes ?? {}).sort()).toEqual(
    Object.values(ERROR_ATTRIBUTES).sort(),
  );
  expect(dead!.MessageAttributes![ERROR_ATTRIBUTES.message]!.StringValue).toBe(poison.text);

  await sendToDeadLetterQueue(servers.sqs, dlq, [poison], limit);
  const report = await moveDeadLetters({
    sqs: servers.sqs,
    from: dlq,
    to: source,
    runId: 'run-large',
    select: () => true,
    maxSelected: null,
    batchSize: 10,
    visibilityTimeoutSeconds: 60,
    waitTimeSeconds: 0,
    signal: new AbortController().signal,
    onOutcome: () => undefined,
  });
  expect(report.end).toBe('empty');
  const [replayed] = await drainVisible(servers.sqs, source);
  expect(replayed!.Body).toBe(poison.message.Body);
  expect(replayed!.MessageAttributes?.[REPLAY_ATTRIBUTE]?.StringValue).toBe('run-large');
});
