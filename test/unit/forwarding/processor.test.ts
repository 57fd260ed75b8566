/**
 * The inbound processor's decisions with in-memory ports (the integration test runs the same
 * code on Redis, the S3 emulator and an SMTP server): which outcome, which error, which metric.
 */
import { UnrecoverableError } from 'bullmq';
import { isRight } from 'fp-ts/Either';
import pino from 'pino';
import { makeMetrics, type Metrics } from '../../../adapters/metrics/registry';
import type { EmailAddress } from '../../../domain/address';
import { decodeSqsBody } from '../../../domain/decode';
import type {
  MailSender,
  SendResult,
  SentCopies,
  StoredMessages,
} from '../../../domain/forwarding/ports';
import { decodeForwardRules } from '../../../domain/forwarding/rules';
import {
  describeSmtpFailure,
  isPermanentSmtpFailure,
  type SmtpFailure,
} from '../../../domain/forwarding/smtp';
import type { ForwardJob, InboundJob, JobSpec } from '../../../domain/jobs';
import type { JobSink } from '../../../domain/ports';
import { routeEvent } from '../../../domain/routing';
import { DEFAULT_SMTP_TIMEOUTS, type ForwardingConfig } from '../../../worker/forwardingConfig';
import type { Forwarder, JobContext } from '../../../worker/processors/forward';
import { makeInboundProcessor } from '../../../worker/processors/inbound';
import { fixtureText } from '../../support/fixtures';

const silent = pino({ level: 'silent' });

function inboundJob(fixture: string): InboundJob {
  const decoded = decodeSqsBody(fixtureText(fixture));
  if (!isRight(decoded)) throw new Error(decoded.left.message);
  return routeEvent(decoded.right).find((j) => j.queue === 'inbound')!.data as InboundJob;
}

function config(changes: Partial<ForwardingConfig> = {}): ForwardingConfig {
  const rules = decodeForwardRules({ '@': ['ops@example.net'] });
  if (!isRight(rules)) throw new Error(rules.left.message);
  return {
    rules: rules.right,
    from: 'forwarder@example.com' as EmailAddress,
    failedVerdicts: 'drop',
    maxBytes: 1024 * 1024,
    smtpUrl: 'smtp://127.0.0.1:2525',
    smtpTimeouts: DEFAULT_SMTP_TIMEOUTS,
    rulesSource: 'inline',
    ruleCount: 1,
    s3CustomEndpoint: false,
    ...changes,
  };
}

interface Harness {
  metrics: Metrics;
  added: JobSpec[];
  sent: { from: string; to: string; message: Buffer }[];
  jobLog: string[];
  /** Each job's data as the processor replaced it (`updateData`), by job name. */
  updated: { name: string; data: unknown }[];
  process: ReturnType<typeof makeInboundProcessor>;
  run(name: string, data: InboundJob | ForwardJob, attemptsMade?: number): Promise<unknown>;
  outcomes(): Promise<Record<string, number>>;
}

function harness(options: {
  config?: Partial<ForwardingConfig>;
  replies?: SendResult[];
  stored?: Record<string, Uint8Array | 'encrypted'>;
  enqueueFails?: boolean;
  forwarding?: boolean;
}): Harness {
  const metrics = makeMetrics();
  const added: JobSpec[] = [];
  const sent: Harness['sent'] = [];
  const jobLog: string[] = [];
  const updated: Harness['updated'] = [];
  const replies = [...(options.replies ?? [])];
  const fanOut: JobSink = {
    enqueue(jobs) {
      if (options.enqueueFails) {
        return Promise.resolve({ failed: new Map([['inbound', new Error('READONLY')]]) });
      }
      added.push(...jobs);
      return Promise.resolve({ failed: new Map() });
    },
    isConnected: () => true,
  };
  const storedMessages: StoredMessages = {
    read({ objectKey }, maxBytes) {
      const bytes = options.stored?.[objectKey];
      if (bytes === undefined) return Promise.resolve({ kind: 'missing', reason: 'NoSuchKey' });
      if (bytes === 'encrypted') return Promise.resolve({ kind: 'encrypted' });
      if (bytes.length > maxBytes) return Promise.resolve({ kind: 'tooLarge', size: bytes.length });
      return Promise.resolve({ kind: 'found', bytes });
    },
  };
  const sender: MailSender = {
    send({ from, to, message }) {
      sent.push({ from, to, message: Buffer.from(message) });
      return Promise.resolve(replies.shift() ?? { ok: true, response: '250 OK queued' });
    },
  };
  const recorded = new Map<string, string>();
  const sentCopies: SentCopies = {
    sentBefore: (copyId) => Promise.resolve(recorded.get(copyId) ?? null),
    record: (copyId, response) => Promise.resolve(void recorded.set(copyId, response)),
  };
  const forwarder: Forwarder = {
    config: config(options.config),
    fanOut,
    storedMessages,
    sender,
    sentCopies,
  };
  const process = makeInboundProcessor({
    metrics,
    log: silent,
    forwarder: options.forwarding === false ? null : forwarder,
  });
  // One id per job, as BullMQ's ids are one per (message, target).
  const context = (name: string, attemptsMade: number, data: unknown): JobContext => ({
    id: `inbound/${name}/${JSON.stringify(data)}`,
    name,
    attemptsMade,
    opts: { attempts: 3 },
    log: (row) => Promise.resolve(jobLog.push(row)),
    updateData: (replaced) => Promise.resolve(updated.push({ name, data: replaced })),
  });
  return {
    metrics,
    added,
    sent,
    jobLog,
    updated,
    process,
    run: (name, data, attemptsMade = 0) => process(data, context(name, attemptsMade, data)),
    async outcomes() {
      const { values } = await metrics.inboundForwarded.get();
      return Object.fromEntries(values.map((v) => [String(v.labels.outcome), v.value] as const));
    },
  };
}

const contentJob = (changes: Partial<ForwardJob> = {}): ForwardJob => {
  const received = inboundJob('receiving/received-sns-base64.json');
  return {
    sesMessageId: received.sesMessageId,
    target: 'ops@example.net' as EmailAddress,
    recipients: received.recipients,
    mailFrom: received.mailFrom,
    source: { type: 'content', content: received.content!, encoding: 'BASE64' },
    subjectTags: [],
    ...changes,
  };
};

const failure = (responseCode: number | null, code: string, response?: string): SendResult => ({
  ok: false,
  failure: { responseCode, code, response: response ?? null, message: `${code} error` },
});

describe('received jobs', () => {
  it('forwarding off: recorded and counted, as before forwarding existed', async () => {
    const h = harness({ forwarding: false });
    await expect(h.run('received', inboundJob('receiving/received-s3.json'))).resolves.toEqual({
      forwarded: false,
      reason: 'forwarding not configured',
    });
    expect((await h.metrics.inboundReceived.get()).values).toEqual([
      expect.objectContaining({ labels: { action: 'S3' }, value: 1 }),
    ]);
  });

  it('fans out one forward job per target and counts the message', async () => {
    const h = harness({});
    const result = await h.run('received', inboundJob('receiving/received-sns-utf8.json'));
    expect(result).toEqual({ outcome: 'fannedOut', forwards: 1 });
    expect(h.added.map((j) => [j.name, j.id])).toEqual([
      ['forward', 'inbound/forward/36ldvptflevkeh1bkqq9cctkqkqqgfuo23lqpc1v/ops@example.net'],
    ]);
    expect(await h.outcomes()).toEqual({});
    // The forward job carries its own copy: the received job keeps no content once fanned out.
    expect(h.updated).toEqual([
      {
        name: 'received',
        data: { ...inboundJob('receiving/received-sns-utf8.json'), content: null },
      },
    ]);
  });

  it('a failed add throws, so the job is retried', async () => {
    const h = harness({ enqueueFails: true });
    await expect(h.run('received', inboundJob('receiving/received-sns-utf8.json'))).rejects.toThrow(
      'adding forward jobs failed: READONLY',
    );
    expect((await h.metrics.inboundReceived.get()).values).toEqual([]);
  });

  it('a dropped message is counted by outcome and adds nothing', async () => {
    const h = harness({});
    await expect(
      h.run('received', inboundJob('receiving/received-spam-fail.json')),
    ).resolves.toEqual({ outcome: 'spam' });
    expect(h.added).toEqual([]);
    expect(await h.outcomes()).toEqual({ spam: 1 });
  });
});

describe('forward jobs', () => {
  it('sends the rewritten message with FORWARD_FROM as envelope sender, to the target', async () => {
    const h = harness({});
    const result = await h.run('forward', contentJob());
    expect(result).toMatchObject({ outcome: 'forwarded', response: '250 OK queued' });
    expect(h.sent).toHaveLength(1);
    expect(h.sent[0]).toMatchObject({ from: 'forwarder@example.com', to: 'ops@example.net' });
    expect(h.sent[0]!.message.toString('latin1')).toMatch(
      /^X-SES-Worker-Forwarded: by=forwarder@example.com;/,
    );
    expect(await h.outcomes()).toEqual({ forwarded: 1 });
  });

  it('a job that runs again after its copy was accepted does not send it again', async () => {
    const h = harness({});
    expect(await h.run('forward', contentJob())).toMatchObject({ outcome: 'forwarded' });
    // The lock lapsed, or the process died before BullMQ recorded completion: the job runs again.
    expect(await h.run('forward', contentJob(), 1)).toEqual({
      outcome: 'forwarded',
      response: '250 OK queued',
      alreadySent: true,
    });
    expect(h.sent).toHaveLength(1);
    expect(await h.outcomes()).toEqual({ forwarded: 1 });
    // Sent: the job keeps its id for the dedupe window, not the message.
    expect(h.updated).toEqual([
      { name: 'forward', data: { ...contentJob(), source: { type: 'released' } } },
      { name: 'forward', data: { ...contentJob(), source: { type: 'released' } } },
    ]);
    // A released job with no record of its copy cannot send an empty message: it fails for good.
    await expect(
      h.run('forward', { ...contentJob(), source: { type: 'released' } }, 2),
    ).rejects.toThrow('the message content was released after sending');
  });

  it('a send that failed is not recorded: the retry sends', async () => {
    const h = harness({ replies: [failure(451, 'EENVELOPE', '451 try later')] });
    await expect(h.run('forward', contentJob())).rejects.toThrow(/451/);
    // Not sent yet: the content stays for the retry.
    expect(h.updated).toEqual([]);
    expect(await h.run('forward', contentJob(), 1)).toMatchObject({ outcome: 'forwarded' });
    expect(h.sent).toHaveLength(2);
  });

  it('reads S3-stored mail; a missing object fails for good', async () => {
    const raw = Buffer.from(JSON.parse(fixtureText('receiving/received-sns-utf8.json')).content);
    const h = harness({ stored: { 'incoming/present': raw } });
    const s3 = (objectKey: string) =>
      contentJob({ source: { type: 's3', bucketName: 'inbound-mail', objectKey } });
    await expect(h.run('forward', s3('incoming/present'))).resolves.toMatchObject({
      outcome: 'forwarded',
    });
    const missing = h.run('forward', s3('incoming/gone'));
    await expect(missing).rejects.toBeInstanceOf(UnrecoverableError);
    await expect(missing).rejects.toThrow('S3 object not found (NoSuchKey)');
    expect(await h.outcomes()).toEqual({ forwarded: 1, missing: 1 });
  });

  it('an S3 object SES encrypted client-side is never sent: it fails for good', async () => {
    const h = harness({ stored: { 'incoming/kms': 'encrypted' } });
    const run = h.run(
      'forward',
      contentJob({ source: { type: 's3', bucketName: 'inbound-mail', objectKey: 'incoming/kms' } }),
    );
    await expect(run).rejects.toBeInstanceOf(UnrecoverableError);
    await expect(run).rejects.toThrow(/encrypted client-side/);
    expect(h.sent).toEqual([]);
    expect(await h.outcomes()).toEqual({ encrypted: 1 });
  });

  it('too large: recorded, nothing sent, the job completes', async () => {
    const h = harness({ config: { maxBytes: 1024 } });
    await expect(h.run('forward', contentJob())).resolves.toMatchObject({ outcome: 'tooLarge' });
    expect(h.sent).toEqual([]);
    expect(await h.outcomes()).toEqual({ tooLarge: 1 });
  });

  it('mail we forwarded before is a loop: recorded, nothing sent', async () => {
    const h = harness({});
    await h.run('forward', contentJob());
    const onceForwarded = h.sent[0]!.message.toString('base64');
    await expect(
      h.run(
        'forward',
        contentJob({ source: { type: 'content', content: onceForwarded, encoding: 'BASE64' } }),
      ),
    ).resolves.toEqual({ outcome: 'loop' });
    expect(h.sent).toHaveLength(1);
    expect(await h.outcomes()).toEqual({ forwarded: 1, loop: 1 });
  });

  it('SMTP 5xx: UnrecoverableError, reason without addresses; the full reply on the job', async () => {
    const reply = '550 5.1.1 <ops@example.net>: Recipient address rejected: User unknown';
    const h = harness({ replies: [failure(550, 'EENVELOPE', reply)] });
    const run = h.run('forward', contentJob());
    await expect(run).rejects.toBeInstanceOf(UnrecoverableError);
    await expect(run).rejects.toThrow(
      'SMTP: 550 5.1.1 <<address>>: Recipient address rejected: User unknown',
    );
    expect(h.jobLog).toEqual([`SMTP failure: ${reply}`]);
    expect(await h.outcomes()).toEqual({ rejected: 1 });
  });

  it('SMTP 4xx: a plain error (BullMQ retries); counted as failed on the last attempt only', async () => {
    const h = harness({
      replies: [
        failure(451, 'EMESSAGE', '451 4.3.0 Try again later'),
        failure(451, 'EMESSAGE', '451 4.3.0 Try again later'),
      ],
    });
    const first = h.run('forward', contentJob(), 0);
    await expect(first).rejects.toThrow('SMTP: 451 4.3.0 Try again later');
    await expect(first).rejects.not.toBeInstanceOf(UnrecoverableError);
    expect(await h.outcomes()).toEqual({});
    await expect(h.run('forward', contentJob(), 2)).rejects.toThrow('451');
    expect(await h.outcomes()).toEqual({ failed: 1 });
  });

  it('connection errors retry too', async () => {
    const h = harness({ replies: [failure(null, 'ECONNECTION')] });
    const run = h.run('forward', contentJob());
    await expect(run).rejects.toThrow('ECONNECTION: ECONNECTION error');
    await expect(run).rejects.not.toBeInstanceOf(UnrecoverableError);
  });

  it('a forward job while forwarding is off, or an unknown job name, fails for good', async () => {
    const off = harness({ forwarding: false });
    await expect(off.run('forward', contentJob())).rejects.toBeInstanceOf(UnrecoverableError);
    await expect(harness({}).run('mystery', contentJob())).rejects.toThrow(
      'unknown inbound job name "mystery"',
    );
  });
});

describe('SMTP failure classification', () => {
  const f = (responseCode: number | null, code: string | null = null): SmtpFailure => ({
    responseCode,
    code,
    response: null,
    message: 'x',
  });
  it.each([
    [f(550, 'EENVELOPE'), true],
    [f(552, 'EMESSAGE'), true],
    [f(554, 'EMESSAGE'), true],
    [f(503, 'EPROTOCOL'), false],
    [f(535, 'EAUTH'), false],
    [f(451, 'EMESSAGE'), false],
    [f(421, 'ECONNECTION'), false],
    [f(null, 'ETIMEDOUT'), false],
    [f(null, 'ECONNECTION'), false],
  ])('%j permanent: %s', (failure, permanent) => {
    expect(isPermanentSmtpFailure(failure)).toBe(permanent);
  });

  it('describes a failure in one line, addresses redacted', () => {
    expect(
      describeSmtpFailure({
        responseCode: 550,
        code: 'EENVELOPE',
        response:
          '550-5.1.1 The email account that you tried\r\n550 5.1.1 to reach (bob@example.net) does not exist',
        message: 'x',
      }),
    ).toBe(
      'SMTP: 550-5.1.1 The email account that you tried 550 5.1.1 to reach (<address>) does not exist',
    );
  });
});
