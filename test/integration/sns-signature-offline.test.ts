/**
 * The built worker as a process in a VPC without egress: SNS_VERIFY_SIGNATURES=true,
 * SNS_CERT_DIR with the captured AWS certificates, SNS_CERT_FETCH=false. It accepts the click
 * AWS really signed, dead-letters a forged copy of it and a message whose certificate is not
 * pinned (naming the file), and makes no network request: test/support/preload/offline.js
 * records every connection to a host that is not this machine. The control case — fetching on,
 * the same unpinned certificate — shows that the recorder does see an attempt.
 *
 * AWS's certificate expired in 2022: the process's clock runs on the click's day (the same
 * preload), so the validity check is made, not skipped.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { createSesTopology } from '../../adapters/emulator/topology';
import { eventually } from '../support/await';
import { topologyEnv, useServers } from '../support/environment';
import { FIXTURES_DIR, fixtureJson, fixtureText } from '../support/fixtures';
import { queueDepth, sendAll } from '../support/sqs';
import { spawnWorker, type WorkerProcess } from '../support/workerProcess';

const servers = useServers();
const PRELOAD = resolve(__dirname, '..', 'support', 'preload', 'offline.js');
const CERT_DIR = join(FIXTURES_DIR, 'captured', 'certs');
const CLICK = 'captured/ses/mass-email-click-linktags-null.json';
const NOTICE = 'captured/ses/laravel-ses-setup-notice.json';
const NOTICE_CERT = 'SimpleNotificationService-010a507c1833636cd94bdb98bd93083a.pem';

let dir: string;
const children: WorkerProcess[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ses-worker-offline-'));
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.child.exitCode === null) child.child.kill('SIGKILL');
    await child.exited;
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function start(name: string, env: Record<string, string>) {
  const topology = await createSesTopology(servers.sqs, servers.sns, { name });
  const networkLog = join(dir, `${name}.network`);
  writeFileSync(networkLog, '');
  // The click's day, 2022-04-22: inside the validity of the certificate that signed it.
  const clockOffset = Date.parse(fixtureJson<{ Timestamp: string }>(CLICK).Timestamp) - Date.now();
  const worker = spawnWorker({
    ...topologyEnv(servers, topology, `{${name}}`),
    AWS_ENDPOINT_URL: servers.emulator.endpoint,
    SNS_VERIFY_SIGNATURES: 'true',
    NODE_OPTIONS: `--require ${PRELOAD}`,
    SES_WORKER_TEST_NETWORK_LOG: networkLog,
    SES_WORKER_TEST_CLOCK_OFFSET_MS: String(clockOffset),
    ...env,
  });
  children.push(worker);
  await worker.httpPort();
  return { topology, worker, networkAttempts: () => readFileSync(networkLog, 'utf8') };
}

async function deadLettered(dlqUrl: string, count: number) {
  await eventually(
    async () => (await queueDepth(servers.sqs, dlqUrl)).visible === count,
    `${count} messages in the DLQ`,
  );
  const { Messages = [] } = await servers.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: dlqUrl,
      MessageAttributeNames: ['All'],
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
    }),
  );
  return new Map(
    Messages.map((m) => [
      (JSON.parse(m.Body!) as { MessageId: string }).MessageId,
      {
        reason: m.MessageAttributes?.['ses-worker.error-reason']?.StringValue,
        text: m.MessageAttributes?.['ses-worker.error-message']?.StringValue,
      },
    ]),
  );
}

it('pinned, fetching off: the genuine click is accepted, the forged and the unpinned are dead-lettered, and nothing touches the network', async () => {
  const { topology, worker, networkAttempts } = await start('offline-pinned', {
    SNS_CERT_DIR: CERT_DIR,
    SNS_CERT_FETCH: 'false',
  });
  const click = fixtureJson<Record<string, string>>(CLICK);
  const forged = {
    ...click,
    MessageId: 'forged-click',
    Message: click.Message!.replace('/yes', '/no'),
  };
  await sendAll(servers.sqs, topology.queueUrl, [
    fixtureText(CLICK),
    JSON.stringify(forged),
    fixtureText(NOTICE),
  ]);

  const dlq = await deadLettered(topology.dlqUrl, 2);
  expect(dlq.get('forged-click')?.reason).toBe('mismatch');
  expect(dlq.get(fixtureJson<{ MessageId: string }>(NOTICE).MessageId)?.reason).toBe(
    'certRejected',
  );
  await worker.waitForLog(
    (l) => typeof l.msg === 'string' && l.msg.includes(`${NOTICE_CERT} is not in SNS_CERT_DIR`),
    'the missing certificate named in the log',
  );
  // The click went through: counted by the metrics processor, and gone from the queue.
  const port = await worker.httpPort();
  await eventually(async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return /^ses_events_total\{kind="click",configuration_set="Emailly"\} 1$/m.test(text);
  }, 'the click counted');
  const depth = await queueDepth(servers.sqs, topology.queueUrl);
  expect(depth.visible + depth.inFlight).toBe(0);

  expect(networkAttempts()).toBe('');
});

it('control: with fetching on, the unpinned certificate is fetched — and the recorder sees it', async () => {
  const { topology, worker, networkAttempts } = await start('offline-control', {
    SNS_CERT_DIR: CERT_DIR,
  });
  await sendAll(servers.sqs, topology.queueUrl, [fixtureText(NOTICE)]);
  await worker.waitForLog(
    (l) => typeof l.msg === 'string' && l.msg.startsWith('SNS signature not checked'),
    'the fetch refused and the message left for later',
  );
  expect(networkAttempts()).toBe('sns.us-west-2.amazonaws.com:443\n');
});
