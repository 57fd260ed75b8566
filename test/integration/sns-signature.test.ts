/**
 * SNS signature verification against real TLS, X.509 and RSA: a CA made here, a local HTTPS
 * server standing in for SNS's certificate host, envelopes signed as SNS signs them. Forged
 * signatures, wrong hosts, http URLs, redirects, oversized or invalid certificates and unknown
 * versions are rejected; an unreachable host is "try later", never poison. Then through the
 * pipeline: a forged notification goes to the DLQ with reason `signature`, a signed one is
 * processed.
 */
import { makeSuppressionStore } from '../../adapters/redis/suppressionStore';
import type { EmailAddress } from '../../domain/address';
import type { ServerResponse } from 'node:http';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import pino from 'pino';
import { createSesTopology } from '../../adapters/emulator/topology';
import {
  makeSnsSignatureVerifier,
  type SnsSignatureOptions,
} from '../../adapters/sns-signature/verifier';
import { loadConfig } from '../../worker/config';
import { startWorker, type RunningWorker } from '../../worker/main';
import { eventually } from '../support/await';
import { useServers } from '../support/environment';
import { fixtureText } from '../support/fixtures';
import { sdkClientConfig } from '../support/servers';
import { queueDepth, sendAll } from '../support/sqs';
import {
  makeTestPki,
  signEnvelope,
  startCertHost,
  type CertHost,
  type IssuedCertificate,
  type TestPki,
} from '../support/tls';

const servers = useServers();
let pki: TestPki;
let signing: IssuedCertificate;
let host: CertHost;
const DAY = 86_400_000;

beforeAll(async () => {
  pki = makeTestPki();
  signing = pki.issue({ commonName: 'sns.amazonaws.com' });
  const expired = pki.issue({
    commonName: 'sns.amazonaws.com',
    notBefore: new Date(Date.now() - 30 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  host = await startCertHost(pki, {
    '/SimpleNotificationService-good.pem': signing.certPem,
    '/cached.pem': signing.certPem,
    '/expired.pem': expired.certPem,
    '/huge.pem': `${signing.certPem}${'#'.repeat(64 * 1024)}`,
    '/page.pem': '<html>maintenance</html>',
    '/redirect.pem': (response: ServerResponse) =>
      response.writeHead(302, { location: '/SimpleNotificationService-good.pem' }).end(),
    '/unavailable.pem': (response: ServerResponse) => response.writeHead(503).end(),
    '/silent.pem': () => undefined,
  });
});
afterAll(() => host?.close());

const testHosts = (): Pick<SnsSignatureOptions, 'certHost' | 'ca'> => ({
  certHost: /^localhost:\d+$/,
  ca: pki.caPem,
});
const verifier = (options: SnsSignatureOptions = {}) =>
  makeSnsSignatureVerifier({ ...testHosts(), fetchTimeoutMs: 1000, ...options });

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ses-events';

function notification(overrides: Record<string, string | undefined> = {}) {
  return {
    Type: 'Notification',
    MessageId: 'b0b0a5b2-3b5c-5d1e-9a3f-6f1f8c1e2d3c',
    TopicArn: TOPIC,
    Subject: 'Amazon SES Email Event Notification',
    Message: fixtureText('notifications/bounce-permanent-general.json'),
    Timestamp: '2026-11-24T12:00:00.123Z',
    UnsubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe',
    ...overrides,
  };
}

const signed = (
  envelope: Record<string, string | undefined>,
  path = '/SimpleNotificationService-good.pem',
  version: '1' | '2' = '2',
  key = signing.keyPem,
) => JSON.stringify(signEnvelope(envelope, key, `${host.origin}${path}`, version));

describe('valid signatures', () => {
  it.each(['1', '2'] as const)('SignatureVersion %s, with and without Subject', async (version) => {
    const check = verifier();
    expect(await check.verify(signed(notification(), undefined, version))).toEqual({
      type: 'valid',
    });
    expect(
      await check.verify(signed(notification({ Subject: undefined }), undefined, version)),
    ).toEqual({ type: 'valid' });
  });

  it.each(['SubscriptionConfirmation', 'UnsubscribeConfirmation'])('%s', async (type) => {
    const envelope = {
      Type: type,
      MessageId: '165545c9-2a5c-472c-8df2-7ff2be2b3b1b',
      Token: '2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3',
      TopicArn: TOPIC,
      Message: `You have chosen to subscribe to the topic ${TOPIC}.`,
      SubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=2336',
      Timestamp: '2026-11-24T12:00:00.123Z',
    };
    expect(await verifier().verify(signed(envelope))).toEqual({ type: 'valid' });
  });

  it('fetches a certificate once for many messages, and again after its time in the cache', async () => {
    const check = verifier({ cacheTtlMs: 300 });
    const bodies = Array.from({ length: 20 }, (_, i) =>
      signed(notification({ MessageId: `cached-${i}` }), '/cached.pem'),
    );
    const results = await Promise.all(bodies.map((body) => check.verify(body)));
    expect(results.every((r) => r.type === 'valid')).toBe(true);
    expect(host.requests.get('/cached.pem')).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await check.verify(bodies[0]!)).toEqual({ type: 'valid' });
    expect(host.requests.get('/cached.pem')).toBe(2);
  });
});

describe('rejected', () => {
  it('a message changed after signing', async () => {
    const body = JSON.parse(signed(notification())) as Record<string, string>;
    body.Message = body.Message!.replace('Permanent', 'Transient');
    expect(await verifier().verify(JSON.stringify(body))).toMatchObject({
      type: 'invalid',
      reason: 'mismatch',
    });
  });

  it('a signature made with another key than the certificate’s', async () => {
    const other = pki.issue({ commonName: 'attacker' });
    expect(
      await verifier().verify(signed(notification(), undefined, '2', other.keyPem)),
    ).toMatchObject({ type: 'invalid', reason: 'mismatch' });
  });

  it.each([
    ['http://', (origin: string) => origin.replace('https://', 'http://'), 'is not https'],
    [
      'an IP for a host',
      (origin: string) => origin.replace('localhost', '127.0.0.1'),
      'is not an SNS host',
    ],
    [
      'credentials in the URL',
      (origin: string) => origin.replace('https://', 'https://user:pw@'),
      'credentials',
    ],
  ])('a certificate URL with %s', async (_what, rewrite, message) => {
    const body = JSON.parse(signed(notification())) as Record<string, string>;
    body.SigningCertURL = rewrite(body.SigningCertURL!);
    const check = await verifier().verify(JSON.stringify(body));
    expect(check).toMatchObject({ type: 'invalid', reason: 'certUrl' });
    expect(check.type === 'invalid' && check.message).toContain(message);
  });

  it('with the production policy, any host but sns.<region>.amazonaws.com(.cn)', async () => {
    const production = makeSnsSignatureVerifier();
    for (const url of [
      `${host.origin}/SimpleNotificationService-good.pem`,
      'https://sns.us-east-1.amazonaws.com.evil.example/x.pem',
      'https://evil.example/sns.us-east-1.amazonaws.com/x.pem',
      'https://sns.us-east-1.amazonaws.com:8443/x.pem',
      'https://s3.amazonaws.com/sns/x.pem',
    ]) {
      const body = JSON.parse(signed(notification())) as Record<string, string>;
      body.SigningCertURL = url;
      expect([url, await production.verify(JSON.stringify(body))]).toEqual([
        url,
        expect.objectContaining({ type: 'invalid', reason: 'certUrl' }),
      ]);
    }
  });

  it.each([
    ['a redirect', '/redirect.pem', /302 \(redirects are not followed\)/],
    ['a certificate too large', '/huge.pem', /larger than 16384 bytes/],
    ['a page that is no certificate', '/page.pem', /did not return a certificate/],
    ['an expired certificate', '/expired.pem', /not valid now/],
    ['a 404', '/missing.pem', /answered 404/],
  ])('%s at the certificate URL', async (_what, path, message) => {
    const check = await verifier().verify(signed(notification(), path));
    expect(check).toMatchObject({ type: 'invalid', reason: 'certRejected' });
    expect(check.type === 'invalid' && check.message).toMatch(message);
  });

  it.each([
    ['3', 'unknownVersion'],
    ['', 'unsigned'],
  ])('SignatureVersion %j', async (version, reason) => {
    const body = JSON.parse(signed(notification())) as Record<string, string>;
    body.SignatureVersion = version;
    expect(await verifier().verify(JSON.stringify(body))).toMatchObject({
      type: 'invalid',
      reason,
    });
  });

  it('a missing signature, or a signed field missing', async () => {
    const unsignedBody = JSON.parse(signed(notification())) as Record<string, string>;
    delete unsignedBody.Signature;
    expect(await verifier().verify(JSON.stringify(unsignedBody))).toMatchObject({
      reason: 'unsigned',
    });
    const noTimestamp = JSON.parse(signed(notification())) as Record<string, string>;
    delete noTimestamp.Timestamp;
    expect(await verifier().verify(JSON.stringify(noTimestamp))).toMatchObject({
      reason: 'unsigned',
    });
  });

  it('a topic not on the allowlist', async () => {
    const check = verifier({ topicArns: ['arn:aws:sns:us-east-1:123456789012:other'] });
    expect(await check.verify(signed(notification()))).toMatchObject({
      type: 'invalid',
      reason: 'topic',
    });
    expect(await verifier({ topicArns: [TOPIC] }).verify(signed(notification()))).toEqual({
      type: 'valid',
    });
  });
});

describe('not decided now', () => {
  it.each([
    ['a 503', '/unavailable.pem'],
    ['no answer within the timeout', '/silent.pem'],
  ])('%s: unavailable, not poison', async (_what, path) => {
    expect(await verifier().verify(signed(notification(), path))).toMatchObject({
      type: 'unavailable',
    });
  });

  it('a host that refuses connections: unavailable', async () => {
    const body = JSON.parse(signed(notification())) as Record<string, string>;
    body.SigningCertURL = 'https://localhost:1/SimpleNotificationService-good.pem';
    expect(await verifier().verify(JSON.stringify(body))).toMatchObject({ type: 'unavailable' });
  });
});

describe('in the pipeline', () => {
  let worker: RunningWorker | undefined;
  afterEach(() => worker?.stop());

  it('a forged notification goes to the DLQ with reason signature; a signed one is processed', async () => {
    const t = await createSesTopology(servers.sqs, servers.sns, { name: 'signatures' });
    const good = signed(notification({ MessageId: 'signed-1' }));
    const forgedEnvelope = JSON.parse(signed(notification({ MessageId: 'forged-1' }))) as Record<
      string,
      string
    >;
    forgedEnvelope.Message = fixtureText('notifications/complaint-abuse.json');
    await sendAll(servers.sqs, t.queueUrl, [good, JSON.stringify(forgedEnvelope)]);

    const prefix = '{signatures}';
    const { endpoint, credentials } = sdkClientConfig(servers.emulator);
    worker = await startWorker({
      config: loadConfig({
        SQS_QUEUE_URL: t.queueUrl,
        SQS_DLQ_URL: t.dlqUrl,
        AWS_REGION: servers.emulator.region,
        REDIS_URL: servers.redisServer.url,
        BULLMQ_PREFIX: prefix,
        HTTP_PORT: '0',
        SQS_WAIT_TIME_SECONDS: '1',
      }),
      log: pino({ level: 'silent' }),
      sqsEndpoint: { endpoint, credentials },
      snsSignature: testHosts(),
    });

    await eventually(
      async () => (await queueDepth(servers.sqs, t.dlqUrl)).visible === 1,
      'the forged one in the DLQ',
    );
    const { Messages } = await servers.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: t.dlqUrl,
        MessageAttributeNames: ['All'],
        WaitTimeSeconds: 1,
      }),
    );
    const attributes = Messages?.[0]?.MessageAttributes ?? {};
    expect(attributes['ses-worker.error']?.StringValue).toBe('signature');
    expect(attributes['ses-worker.error-reason']?.StringValue).toBe('mismatch');
    expect(JSON.parse(Messages![0]!.Body!)).toMatchObject({ MessageId: 'forged-1' });

    await eventually(async () => {
      const found = await makeSuppressionStore(servers.redis, prefix).check(
        ['jane@example.net' as EmailAddress],
        ['global'],
      );
      return found.size === 1;
    }, 'the signed bounce suppressed');
    const counts = await worker.metrics.signatureFailures.get();
    expect(counts.values).toEqual([
      expect.objectContaining({ labels: { reason: 'mismatch' }, value: 1 }),
    ]);
  });
});
