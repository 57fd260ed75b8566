/**
 * The ingest step's decisions, with in-memory ports standing in for BullMQ and SQS (the real
 * ones are exercised in test/integration). What matters here is the order and the choice:
 * jobs first, delete only what was fully accepted, DLQ before delete, never throw.
 */
import type { Message } from '@aws-sdk/client-sqs';
import pino from 'pino';
import { makeMetrics } from '../../../adapters/metrics/registry';
import type { FailedIds, PoisonMessage } from '../../../adapters/sqs/messages';
import type { JobSpec, QueueName } from '../../../domain/jobs';
import type { JobSink } from '../../../domain/ports';
import { ingestBatch, type IngestDeps, type MessageOutcome } from '../../../worker/ingest';
import { fixtureText, snsBody, fixtureJson } from '../../support/fixtures';

const message = (id: string, body: string): Message => ({
  MessageId: id,
  ReceiptHandle: `rh-${id}`,
  Body: body,
});
const bounce = message('bounce', fixtureText('notifications/bounce-permanent-general.json'));
const open = message('open', snsBody(fixtureJson('event-publishing/open.json')));
const received = message('received', fixtureText('receiving/received-sns-utf8.json'));
const notJson = message('not-json', 'hello');
const unknownType = message('unknown', '{"notificationType":"Teleport","mail":{}}');

function harness(
  options: {
    failQueues?: QueueName[];
    failDlq?: string[];
    failDelete?: string[];
    dlq?: boolean;
    sinkThrows?: boolean;
  } = {},
) {
  const calls: string[] = [];
  const enqueued: JobSpec[] = [];
  const sink: JobSink = {
    enqueue: (jobs) => {
      calls.push(`enqueue ${jobs.length}`);
      if (options.sinkThrows) return Promise.reject(new Error('connection is closed'));
      const failed = new Map<QueueName, Error>();
      for (const job of jobs) {
        if (options.failQueues?.includes(job.queue)) failed.set(job.queue, new Error('READONLY'));
        else enqueued.push(job);
      }
      return Promise.resolve({ failed });
    },
    isConnected: () => true,
  };
  const fail = (ids: readonly string[], which: string[] | undefined): FailedIds =>
    new Map(ids.filter((id) => which?.includes(id)).map((id) => [id, 'refused']));
  const deadLettered: PoisonMessage[] = [];
  const deps: IngestDeps = {
    sink,
    deleteMessages: (messages) => {
      calls.push(`delete ${messages.map((m) => m.MessageId).join(',')}`);
      return Promise.resolve(
        fail(
          messages.map((m) => m.MessageId!),
          options.failDelete,
        ),
      );
    },
    deadLetter:
      options.dlq === false
        ? null
        : (poison) => {
            calls.push(`dlq ${poison.map((p) => p.message.MessageId).join(',')}`);
            deadLettered.push(...poison);
            return Promise.resolve(
              fail(
                poison.map((p) => p.message.MessageId!),
                options.failDlq,
              ),
            );
          },
    metrics: makeMetrics(),
    log: pino({ level: 'silent' }),
  };
  return { deps, calls, enqueued, deadLettered };
}

const types = (outcomes: MessageOutcome[]) =>
  Object.fromEntries(outcomes.map((o) => [o.messageId, o.type]));

describe('ingestBatch', () => {
  it('enqueues every job, then deletes the messages', async () => {
    const h = harness();
    const outcomes = await ingestBatch([bounce, open, received], h.deps);
    expect(types(outcomes)).toEqual({ bounce: 'enqueued', open: 'enqueued', received: 'enqueued' });
    expect(h.calls).toEqual([`enqueue ${h.enqueued.length}`, 'delete bounce,open,received']);
    // The events' own jobs, and one metrics job for the batch.
    expect(h.enqueued.map((j) => j.queue).sort()).toEqual(['inbound', 'metrics', 'suppression']);
    expect(outcomes.every((o) => o.type === 'enqueued' && o.deleted)).toBe(true);
  });

  it('without forwarding, a received job carries no message content; with it, the content', async () => {
    const contentOf = async (keepInboundContent: boolean) => {
      const h = harness();
      await ingestBatch([received], { ...h.deps, keepInboundContent });
      const job = h.enqueued.find((j) => j.queue === 'inbound');
      return (job?.data as { content: string | null } | undefined)?.content;
    };
    expect(await contentOf(false)).toBeNull();
    expect(await contentOf(true)).toEqual(expect.any(String));
  });

  it('a poison message goes to the DLQ with its error, then is deleted; the rest of the batch goes on', async () => {
    const h = harness();
    const outcomes = await ingestBatch([notJson, bounce, unknownType], h.deps);
    expect(types(outcomes)).toEqual({
      'not-json': 'deadLettered',
      bounce: 'enqueued',
      unknown: 'deadLettered',
    });
    expect(h.calls).toEqual([
      'enqueue 2',
      'dlq not-json,unknown',
      'delete bounce,not-json,unknown',
    ]);
    expect(h.deadLettered.map((p) => [p.error, p.reason])).toEqual([
      ['decode', 'notJson'],
      ['decode', 'unsupported'],
    ]);
    expect(h.deadLettered[1]!.text).toContain('notificationType');
  });

  it('logs why a message did not decode, never what it holds', async () => {
    const lines: string[] = [];
    const h = harness();
    const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const secret = message('secret', 'Subject: our merger with Initech, call me');
    const mistyped = message(
      'mistyped',
      JSON.stringify({
        ...fixtureJson('notifications/bounce-permanent-general.json'),
        mail: 'Q3 layoffs list',
      }),
    );
    await ingestBatch([secret, mistyped], { ...h.deps, log });
    const logged = lines.join('');
    expect(logged).toContain('at the top level: expected JSON text, got a string of 41 characters');
    expect(logged).toContain('at mail: expected');
    expect(logged).toContain('got a string of 15 characters');
    for (const content of ['merger', 'Initech', 'layoffs']) expect(logged).not.toContain(content);
    // The DLQ keeps the full error, excerpt included: it holds the message anyway.
    expect(h.deadLettered.map((p) => p.text).join(' ')).toContain('Initech');
  });

  it('without a DLQ, poison is left for the redrive policy: not deleted', async () => {
    const h = harness({ dlq: false });
    const outcomes = await ingestBatch([notJson, open], h.deps);
    expect(types(outcomes)).toEqual({ 'not-json': 'leftForRedrive', open: 'enqueued' });
    expect(h.calls).toEqual(['enqueue 1', 'delete open']);
  });

  it('a poison message the DLQ refused stays on the queue', async () => {
    const h = harness({ failDlq: ['not-json'] });
    const outcomes = await ingestBatch([notJson, unknownType], h.deps);
    expect(types(outcomes)).toEqual({ 'not-json': 'retryLater', unknown: 'deadLettered' });
    expect(h.calls.at(-1)).toBe('delete unknown');
  });

  it('a queue refusing its jobs keeps exactly the messages that had jobs for it', async () => {
    const h = harness({ failQueues: ['suppression'] });
    const outcomes = await ingestBatch([bounce, open, received], h.deps);
    expect(types(outcomes)).toEqual({
      bounce: 'retryLater',
      open: 'enqueued',
      received: 'enqueued',
    });
    expect(h.calls.at(-1)).toBe('delete open,received');
  });

  it('Redis down: nothing is deleted, and nothing throws', async () => {
    const h = harness({ sinkThrows: true });
    const outcomes = await ingestBatch([bounce, open, notJson], h.deps);
    expect(types(outcomes)).toEqual({
      bounce: 'retryLater',
      open: 'retryLater',
      'not-json': 'deadLettered',
    });
    expect(h.calls).toEqual(['enqueue 2', 'dlq not-json', 'delete not-json']);
  });

  it('a failed delete is reported on the outcome, the jobs stay in', async () => {
    const h = harness({ failDelete: ['open'] });
    const outcomes = await ingestBatch([open, bounce], h.deps);
    expect(outcomes).toEqual([
      expect.objectContaining({ messageId: 'open', type: 'enqueued', deleted: false }),
      expect.objectContaining({ messageId: 'bounce', type: 'enqueued', deleted: true }),
    ]);
  });

  it('counts received, deleted, poisoned and decode failures', async () => {
    const h = harness();
    await ingestBatch([bounce, notJson, unknownType], h.deps);
    const value = async (name: string) =>
      (await h.deps.metrics.registry.getSingleMetric(name)!.get()).values;
    expect((await value('ses_worker_sqs_messages_received_total'))[0]!.value).toBe(3);
    expect((await value('ses_worker_sqs_messages_deleted_total'))[0]!.value).toBe(3);
    expect(await value('ses_worker_decode_failures_total')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ labels: { reason: 'notJson' }, value: 1 }),
        expect.objectContaining({ labels: { reason: 'unsupported' }, value: 1 }),
      ]),
    );
  });
});
