/**
 * Inbound forwarding end to end, on real servers, driven the way production is: a `Received`
 * notification published to a real SNS topic reaches SQS, the worker's ingest turns it into a
 * `received` job in a real Redis, which fans out `forward` jobs; each reads the message (the
 * notification's content, or the emulator's S3), rewrites it and delivers it to a real SMTP
 * server (smtp-server). Nothing is mocked.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Job, Queue } from 'bullmq';
import { openQueue } from '../../adapters/bullmq/layout';
import pino from 'pino';
import { createSesTopology, type SesTopology } from '../../adapters/emulator/topology';
import { firstMailbox } from '../../domain/forwarding/mailbox';
import { forwardJobId } from '../../domain/forwarding/policy';
import type { EmailAddress } from '../../domain/address';
import type { ForwardJob, InboundJob } from '../../domain/jobs';
import { loadConfig } from '../../worker/config';
import { startWorker, type RunningWorker } from '../../worker/main';
import { eventually } from '../support/await';
import { useServers } from '../support/environment';
import { FIXTURES_DIR, fixtureJson } from '../support/fixtures';
import { headerValues, splitMessage } from '../support/mime';
import { sdkClientConfig } from '../support/servers';
import { startSmtpServer, type ReceivedMail, type TestSmtpServer } from '../support/smtp';
import { publishAll, queueDepth } from '../support/sqs';

const servers = useServers();
let smtp: TestSmtpServer;
let s3: S3Client;
const BUCKET = 'inbound-mail';
const FORWARD_FROM = 'forwarder@example.com';
const RULES = {
  'info@example.com': ['ops@example.net'],
  '@example.com': ['team@example.net'],
};

beforeAll(async () => {
  smtp = await startSmtpServer();
  s3 = new S3Client(sdkClientConfig(servers.emulator));
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
});
afterAll(async () => {
  s3?.destroy();
  await smtp?.stop();
});

interface Running {
  worker: RunningWorker;
  topology: SesTopology;
  queue: Queue;
  logs: string[];
}
const running: Running[] = [];
let count = 0;

afterEach(async () => {
  await Promise.all(
    running.splice(0).map(async (r) => {
      await r.worker.stop();
      await r.queue.close();
    }),
  );
  smtp.reset();
});

/** A worker with forwarding on, on a topology and BullMQ prefix of its own. */
async function forwardingWorker(env: Record<string, string> = {}): Promise<Running> {
  const n = ++count;
  const topology = await createSesTopology(servers.sqs, servers.sns, { name: `forwarding-${n}` });
  const prefix = `{forwarding-${n}}`;
  const config = loadConfig({
    SQS_QUEUE_URL: topology.queueUrl,
    SQS_DLQ_URL: topology.dlqUrl,
    AWS_REGION: servers.emulator.region,
    REDIS_URL: servers.redisServer.url,
    BULLMQ_PREFIX: prefix,
    HTTP_PORT: '0',
    SQS_WAIT_TIME_SECONDS: '1',
    SNS_VERIFY_SIGNATURES: 'false',
    JOB_BACKOFF_MS: '50',
    JOB_ATTEMPTS: '4',
    FORWARD_RULES: JSON.stringify(RULES),
    FORWARD_FROM,
    SMTP_URL: smtp.url,
    ...env,
  });
  const logs: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => logs.push(line) });
  const { endpoint, credentials } = sdkClientConfig(servers.emulator);
  const worker = await startWorker({ config, log, sqsEndpoint: { endpoint, credentials } });
  const queue = openQueue('inbound', servers.redis, prefix);
  const r = { worker, topology, queue, logs };
  running.push(r);
  return r;
}

/** Publishes SES notifications (their JSON text) through the worker's SNS topic. */
const publish = (r: Running, ...notifications: unknown[]) =>
  publishAll(
    servers.sns,
    r.topology.topicArn,
    notifications.map((n) => JSON.stringify(n)),
  );

/** The parts of a receiving fixture the tests read; the rest travels along untouched. */
interface ReceivedNotification {
  readonly receipt: {
    readonly action: { readonly objectKey?: string; readonly encoding?: string };
  };
  readonly mail: { readonly messageId: string };
  readonly content?: string;
}
const notification = (name: string) => fixtureJson<ReceivedNotification>(`receiving/${name}`);
const rawContent = (name: string): Buffer => {
  const json = notification(name);
  return Buffer.from(json.content!, json.receipt.action.encoding === 'BASE64' ? 'base64' : 'utf8');
};

async function jobIn(r: Running, id: string): Promise<Job | undefined> {
  return (await r.queue.getJob(id)) ?? undefined;
}

/** Waits until the job has finished (completed or failed) and returns it with its state. */
async function finished(r: Running, id: string): Promise<{ job: Job; state: string }> {
  return eventually(async () => {
    const state = await r.queue.getJobState(id);
    if (state !== 'completed' && state !== 'failed') throw new Error(`${id} is ${state}`);
    // Read after the state: a job read before it finished has no return value or reason yet.
    return { job: (await jobIn(r, id))!, state };
  }, `job ${id} to finish`);
}

const receivedId = (messageId: string) => `inbound/received/${messageId}`;
const forwardId = (messageId: string, target: string) =>
  forwardJobId(messageId, target as EmailAddress);

async function jobNames(r: Running): Promise<string[]> {
  const jobs = await r.queue.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed']);
  return jobs.map((j) => `${j.name} ${j.id}`).sort();
}

const outcomes = async (r: Running): Promise<Record<string, number>> =>
  Object.fromEntries(
    (await r.worker.metrics.inboundForwarded.get()).values.map(
      (v) => [String(v.labels.outcome), v.value] as const,
    ),
  );

const mailTo = (target: string): ReceivedMail => {
  const mail = smtp.accepted.find((m) => m.to.includes(target));
  if (mail === undefined) throw new Error(`no mail to ${target}`);
  return mail;
};

describe('inbound forwarding', () => {
  it('SNS content (UTF8): each target gets one rewritten copy, the body byte for byte', async () => {
    const r = await forwardingWorker();
    const json = notification('received-sns-utf8.json');
    await publish(r, json);
    const messageId = json.mail.messageId;
    for (const target of ['ops@example.net', 'team@example.net']) {
      const { state, job } = await finished(r, forwardId(messageId, target));
      expect(state).toBe('completed');
      expect(job.returnvalue).toMatchObject({ outcome: 'forwarded' });
      // Kept for its id (the dedupe window), without the message.
      expect((job.data as ForwardJob).source).toEqual({ type: 'released' });
    }
    const { job: receivedJob } = await finished(r, receivedId(messageId));
    expect((receivedJob.data as InboundJob).content).toBeNull();
    expect(smtp.accepted).toHaveLength(2);
    const original = splitMessage(rawContent('received-sns-utf8.json'));

    // info@ matched its address rule; Sales@Example.com (Bcc'd) the @example.com domain rule.
    for (const [target, via] of [
      ['ops@example.net', 'info@example.com'],
      ['team@example.net', 'sales@example.com'],
    ] as const) {
      const mail = mailTo(target);
      expect(mail.from).toBe(FORWARD_FROM);
      expect(mail.to).toEqual([target]);
      const { head, body } = splitMessage(mail.raw);
      expect(body.equals(original.body)).toBe(true);
      expect(headerValues(head, 'from')).toEqual([`"Alice Example via ${via}" <${FORWARD_FROM}>`]);
      expect(headerValues(head, 'reply-to')).toEqual(['Alice Example <alice@example.org>']);
      expect(headerValues(head, 'x-original-to')).toEqual([via]);
      expect(headerValues(head, 'message-id')).toEqual(headerValues(original.head, 'message-id'));
      expect(headerValues(head, 'subject')).toEqual(['Quarterly report']);
      for (const removed of ['dkim-signature', 'return-path', 'sender', 'x-ses-dkim-signature']) {
        expect(headerValues(head, removed)).toEqual([]);
      }
    }
    expect(await outcomes(r)).toEqual({ forwarded: 2 });
    // Logs at info level name messages by id, never by address.
    const infoLines = r.logs.filter((line) => (JSON.parse(line) as { level: number }).level <= 30);
    expect(infoLines.some((line) => line.includes(messageId))).toBe(true);
    expect(infoLines.filter((line) => /@example\.(com|net|org)/.test(line))).toEqual([]);
  });

  it('SNS content (BASE64): the 8-bit UTF-8 message arrives decoded and intact', async () => {
    const r = await forwardingWorker();
    const json = notification('received-sns-base64.json');
    await publish(r, json);
    const { state } = await finished(r, forwardId(json.mail.messageId, 'team@example.net'));
    expect(state).toBe('completed');
    const { head, body } = splitMessage(mailTo('team@example.net').raw);
    expect(body.equals(splitMessage(rawContent('received-sns-base64.json')).body)).toBe(true);
    expect(body.toString('utf8')).toContain('Schöne Grüße aus Köln');
    expect(headerValues(head, 'subject')).toEqual([
      '=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4g4oCTIFJlY2hudW5nIE5yLiA0MiBmw7xyIE3DpHJ6?=',
    ]);
    expect(firstMailbox(headerValues(head, 'from')[0]!)).toEqual({
      name: 'Juergen Mueller via rechnungen@example.com',
      address: FORWARD_FROM,
    });
  });

  it('S3 action: read from the emulator’s S3; a missing or client-side encrypted object fails', async () => {
    const r = await forwardingWorker();
    const json = notification('received-s3.json');
    const stored = readFileSync(join(FIXTURES_DIR, 'mime', 'encoded-words-nested.eml'));
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: json.receipt.action.objectKey, Body: stored }),
    );
    const variant = (messageId: string) => ({
      ...json,
      receipt: {
        ...json.receipt,
        action: { ...json.receipt.action, objectKey: `incoming/${messageId}` },
      },
      mail: { ...json.mail, messageId },
    });
    const gone = variant('gone0000000000000000000000000000000000000');
    // What SES stores when the receipt rule has a KMS key: ciphertext, key in the metadata.
    const kms = variant('kms00000000000000000000000000000000000000');
    await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: kms.receipt.action.objectKey,
        Body: Buffer.from('0123456789abcdef'),
        Metadata: { 'x-amz-key-v2': 'AQIDAHhBase64KeyBlob', 'x-amz-cek-alg': 'AES/GCM/NoPadding' },
      }),
    );
    await publish(r, json, gone, kms);

    const delivered = await finished(r, forwardId(json.mail.messageId, 'ops@example.net'));
    expect(delivered.state).toBe('completed');
    const { head, body } = splitMessage(mailTo('ops@example.net').raw);
    expect(body.equals(splitMessage(stored).body)).toBe(true);
    expect(headerValues(head, 'x-original-from')).toEqual([
      '=?ISO-8859-1?Q?Marie_Lef=E8vre?= =?ISO-8859-1?Q?_=28Comptabilit=E9=29?= <marie@example.org>',
    ]);

    const missing = await finished(r, forwardId(gone.mail.messageId, 'ops@example.net'));
    expect(missing.state).toBe('failed');
    expect(missing.job.failedReason).toBe('S3 object not found (NoSuchKey)');
    expect(missing.job.attemptsStarted).toBe(1); // failed for good, not retried
    const encrypted = await finished(r, forwardId(kms.mail.messageId, 'ops@example.net'));
    expect(encrypted.state).toBe('failed');
    expect(encrypted.job.failedReason).toMatch(/^S3 object is encrypted client-side/);
    expect(smtp.attempts).toHaveLength(1);
    expect(await outcomes(r)).toEqual({ forwarded: 1, missing: 1, encrypted: 1 });
  });

  it('spam or virus FAIL: not forwarded (no forward job, no mail), with the outcome counted', async () => {
    const r = await forwardingWorker();
    const spam = notification('received-spam-fail.json');
    const virus = notification('received-virus-fail.json');
    await publish(r, spam, virus);
    for (const json of [spam, virus]) {
      const { state, job } = await finished(r, receivedId(json.mail.messageId));
      expect(state).toBe('completed');
      expect(job.returnvalue).toEqual({
        outcome: json === spam ? 'spam' : 'virus',
      });
    }
    // The fan-out happens inside the received job: once it completed, nothing more can come.
    expect((await jobNames(r)).every((name) => name.startsWith('received '))).toBe(true);
    expect(smtp.attempts).toEqual([]);
    expect(await outcomes(r)).toEqual({ spam: 1, virus: 1 });
  });

  it('FORWARD_FAILED_VERDICTS=tag: spam is forwarded with [SPAM] before the subject', async () => {
    const r = await forwardingWorker({ FORWARD_FAILED_VERDICTS: 'tag' });
    const spam = notification('received-spam-fail.json');
    await publish(r, spam);
    const target = 'ops@example.net';
    expect((await finished(r, forwardId(spam.mail.messageId, target))).state).toBe('completed');
    const original = splitMessage(rawContent('received-spam-fail.json')).head;
    const subject = headerValues(original, 'subject')[0]!;
    expect(headerValues(splitMessage(mailTo(target).raw).head, 'subject')).toEqual([
      `[SPAM] ${subject}`,
    ]);
  });

  it('a duplicate notification, and a fan-out run again, deliver once', async () => {
    const r = await forwardingWorker();
    const json = notification('received-sns-base64.json');
    const id = forwardId(json.mail.messageId, 'team@example.net');
    await publish(r, json, json);
    await finished(r, id);
    // Both copies were ingested (and deleted) once the queue is empty.
    await eventually(async () => {
      const depth = await queueDepth(servers.sqs, r.topology.queueUrl);
      return depth.visible === 0 && depth.inFlight === 0;
    }, 'the SQS queue to drain');
    expect(smtp.accepted).toHaveLength(1);

    // The received job gone (its retention ran out, or it is retried): the fan-out runs again,
    // and the forward job's own id keeps the copy from going out twice.
    await (await jobIn(r, receivedId(json.mail.messageId)))!.remove();
    await publish(r, json);
    const again = await finished(r, receivedId(json.mail.messageId));
    expect(again.job.returnvalue).toEqual({ outcome: 'fannedOut', forwards: 1 });
    expect((await jobIn(r, id))!.attemptsStarted).toBe(1);
    expect(smtp.attempts).toHaveLength(1);
    expect(await outcomes(r)).toEqual({ forwarded: 1 });
  });

  it('SMTP 451, then 250: delivered once, after a retry', async () => {
    const r = await forwardingWorker();
    smtp.replyWith((_mail, attempt) =>
      attempt === 1 ? { code: 451, message: '4.3.0 Mailbox busy, try again later' } : null,
    );
    const json = notification('received-sns-base64.json');
    await publish(r, json);
    const { state, job } = await finished(r, forwardId(json.mail.messageId, 'team@example.net'));
    expect(state).toBe('completed');
    expect(smtp.attempts).toHaveLength(2);
    expect(smtp.accepted).toHaveLength(1);
    expect(job.attemptsStarted).toBe(2);
    const jobs = (await r.worker.metrics.jobs.get()).values;
    expect(jobs).toContainEqual(
      expect.objectContaining({ labels: { queue: 'inbound', outcome: 'retrying' }, value: 1 }),
    );
    expect(await outcomes(r)).toEqual({ forwarded: 1 });
  });

  it('SMTP 550: the forward job fails for good, the reply kept on the job', async () => {
    const r = await forwardingWorker();
    smtp.rejectRecipients((address) =>
      address === 'team@example.net'
        ? { code: 550, message: `5.1.1 <${address}>: Recipient address rejected: User unknown` }
        : null,
    );
    const json = notification('received-sns-base64.json');
    await publish(r, json);
    const id = forwardId(json.mail.messageId, 'team@example.net');
    const { state, job } = await finished(r, id);
    expect(state).toBe('failed');
    expect(job.attemptsStarted).toBe(1);
    expect(job.failedReason).toBe(
      'SMTP: 550 5.1.1 <<address>>: Recipient address rejected: User unknown',
    );
    const { logs } = await r.queue.getJobLogs(id);
    expect(logs).toEqual([
      'SMTP failure: 550 5.1.1 <team@example.net>: Recipient address rejected: User unknown',
    ]);
    expect(smtp.attempts).toEqual([]);
    expect(await outcomes(r)).toEqual({ rejected: 1 });
  });

  it('over FORWARD_MAX_BYTES: recorded as tooLarge, nothing sent, the job completes', async () => {
    const r = await forwardingWorker({ FORWARD_MAX_BYTES: '2048' });
    const json = notification('received-sns-utf8.json');
    expect(rawContent('received-sns-utf8.json').length).toBeGreaterThan(2048);
    await publish(r, json);
    const { state, job } = await finished(r, forwardId(json.mail.messageId, 'ops@example.net'));
    expect(state).toBe('completed');
    expect(job.returnvalue).toMatchObject({ outcome: 'tooLarge' });
    await finished(r, forwardId(json.mail.messageId, 'team@example.net'));
    expect(smtp.attempts).toEqual([]);
    expect(await outcomes(r)).toEqual({ tooLarge: 2 });
  });

  it('forwarding off (FORWARD_RULES unset): received mail is recorded, nothing is sent', async () => {
    const r = await forwardingWorker({ FORWARD_RULES: '' });
    const json = notification('received-sns-utf8.json');
    await publish(r, json);
    const { job } = await finished(r, receivedId(json.mail.messageId));
    expect(job.returnvalue).toEqual({ forwarded: false, reason: 'forwarding not configured' });
    expect(await jobNames(r)).toEqual([`received ${receivedId(json.mail.messageId)}`]);
    expect(smtp.attempts).toEqual([]);
  });
});
