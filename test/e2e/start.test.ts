/**
 * `npm start` (`ses-worker run --embedded`) as a newcomer meets it: the block it prints, and the
 * five-minute tour run from it, each command exactly as printed, through a shell that has none
 * of the AWS or queue variables set: publish a bounce with the AWS CLI, find it in /metrics and
 * through the suppression API (curl), poison a message, then `dlq stats` and `replay-dlq
 * --dry-run` after the printed `export`. Then the ports: a busy one ends it with one line and 69.
 *
 * The AWS CLI (v1 or v2) and curl must be on PATH: .ci/run installs them. Redis is the test's
 * own server, never the shared one; the emulator gets a free port, never 4566.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { eventually } from '../support/await';
import { freePort, startRedis, type RedisServer } from '../support/servers';
import { CLI, spawnWorker, stopWorker, type WorkerProcess } from '../support/workerProcess';

let redisServer: RedisServer;
const children: WorkerProcess[] = [];
const listeners: Server[] = [];

beforeAll(async () => {
  for (const command of ['aws', 'curl']) {
    if (spawnSync('sh', ['-c', `command -v ${command}`]).status !== 0)
      throw new Error(`${command} is not on PATH: the tour needs it (.ci/run installs it)`);
  }
  redisServer = await startRedis();
});
afterEach(async () => {
  for (const child of children.splice(0)) await stopWorker(child);
  for (const listener of listeners.splice(0))
    await new Promise((resolve) => listener.close(resolve));
});
afterAll(() => redisServer?.stop());

/**
 * A newcomer's shell: the test's environment without anything that would point the AWS CLI or
 * ses-worker somewhere (AWS_*, SQS_*, REDIS_*), and with no AWS config file to fall back on.
 */
async function newcomerShell(
  script: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(AWS_|SQS_|REDIS_|BULLMQ_|API_TOKEN)/.test(name)) env[name] = value;
  }
  env.AWS_CONFIG_FILE = '/nonexistent/aws-config';
  env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/aws-credentials';
  env.AWS_PAGER = '';
  const child = spawn('sh', ['-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  return { code, stdout, stderr };
}

/** The printed line that starts (after its indent) with `start`. */
/** The sample file a publish line names (`--message file://<path>`). */
function samplePath(publishLine: string): string {
  const path = /--message file:\/\/(\S+)$/.exec(publishLine)?.[1];
  if (path === undefined) throw new Error(`no sample file in ${publishLine}`);
  return path;
}

function printed(lines: readonly string[], start: string): string {
  const line = lines.map((l) => l.trim()).find((l) => l.startsWith(start));
  if (line === undefined)
    throw new Error(`no line starting with ${start} in:\n${lines.join('\n')}`);
  return line;
}

async function listenOn(port: number, host: string): Promise<void> {
  const server = createServer();
  listeners.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
}

describe('npm start (run --embedded)', () => {
  it('prints where everything is, and the tour works exactly as printed', async () => {
    const emulatorPort = await freePort();
    const httpPort = await freePort();
    const worker = spawnWorker(
      {
        REDIS_URL: redisServer.url,
        BULLMQ_PREFIX: '{e2e-start}',
        EMULATOR_PORT: String(emulatorPort),
        HTTP_PORT: String(httpPort),
      },
      ['run', '--embedded'],
    );
    children.push(worker);
    await worker.waitForText((line) => line.trim().startsWith('export '), 'the printed block');
    const block = [...worker.text];

    // Stable names: the same endpoint, ARN and URLs on every run at a given port.
    const endpoint = `http://127.0.0.1:${emulatorPort}`;
    const topicArn = 'arn:aws:sns:us-east-1:000000000000:ses-events';
    const queueUrl = `http://sqs.us-east-1.localhost:${emulatorPort}/000000000000/ses-events-queue`;
    const dlqUrl = `http://sqs.us-east-1.localhost:${emulatorPort}/000000000000/ses-events-dlq`;
    expect(printed(block, 'endpoint')).toBe(
      `endpoint     ${endpoint}  (region us-east-1, credentials: any)`,
    );
    expect(printed(block, 'topic')).toBe(`topic        ${topicArn}`);
    expect(printed(block, 'queue')).toBe(`queue        ${queueUrl}`);
    expect(printed(block, 'DLQ')).toBe(`DLQ          ${dlqUrl}`);
    expect(printed(block, 'status page')).toBe(`status page  http://127.0.0.1:${httpPort}/`);
    expect(block.length).toBeLessThanOrEqual(16);
    // The JSON log line is still there, for whatever reads the logs.
    expect(worker.logs.find((l) => l.msg.startsWith('embedded SQS/SNS/S3 emulator'))).toMatchObject(
      { endpoint, topicArn, queueUrl, dlqUrl },
    );
    // No API_TOKEN set: one was made for this run, shown here and nowhere in the logs.
    const token = /^API token {4}(\S+) {2}\(made for this run/.exec(
      printed(block, 'API token'),
    )?.[1];
    expect(token).toMatch(/^[\w-]{24}$/);

    // 1. Publish the sample bounce, as printed.
    const publishLine = printed(block, 'AWS_ACCESS_KEY_ID=');
    expect(publishLine).toBe(
      `AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws --endpoint-url ${endpoint} --region us-east-1 sns publish --topic-arn ${topicArn} --message file://${samplePath(publishLine)}`,
    );
    expect(samplePath(publishLine)).toMatch(/\/ses-worker-sample-[^/]+\/bounce\.json$/);
    const published = await newcomerShell(publishLine);
    expect(published).toMatchObject({ code: 0, stdout: expect.stringContaining('"MessageId"') });

    // 2. It decodes, is counted, and suppresses its recipient.
    const metrics = () => fetch(`http://127.0.0.1:${httpPort}/metrics`).then((r) => r.text());
    const counted = await eventually(async () => {
      const text = await metrics();
      return /^ses_events_total\{kind="bounce",configuration_set="none"\} 1$/m.test(text) && text;
    }, 'the bounce in ses_events_total');
    expect(counted).toMatch(
      /^ses_bounces_total\{bounce_type="Permanent",bounce_subtype="General"\} 1$/m,
    );
    const curlLine = printed(block, 'curl ');
    expect(curlLine).toBe(
      `curl -sS -H 'Authorization: Bearer ${token}' http://127.0.0.1:${httpPort}/suppressions/jane@example.net`,
    );
    const record = await eventually(async () => {
      const { code, stdout } = await newcomerShell(curlLine);
      const body = code === 0 ? (JSON.parse(stdout) as { suppressed?: boolean }) : null;
      return body?.suppressed === true && body;
    }, 'the recipient suppressed, through the printed curl line');
    expect(record).toMatchObject({
      address: 'jane@example.net',
      entries: [{ scope: 'global', reason: 'bounce' }],
    });
    // Without the token the API stays closed.
    const anonymous = await fetch(`http://127.0.0.1:${httpPort}/suppressions/jane@example.net`);
    expect(anonymous.status).toBe(401);

    // 3. The status page answers at the printed URL.
    const page = await fetch(printed(block, 'status page').split(/ +/)[2]!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>ses-worker status</title>');
    // The sample is dated now, so the page's events chart shows it (a 2024 date would not).
    await eventually(async () => {
      const html = await fetch(printed(block, 'status page').split(/ +/)[2]!).then((r) => r.text());
      return html.includes('data-series="bounce"');
    }, "the sample bounce on the status page's events chart");

    // 4. In a second shell, after the printed export: poison a message, count and replay the DLQ.
    const exportLine = printed(block, 'export ');
    const secondShell = (command: string) => newcomerShell(`${exportLine}\n${command}`);
    const poisoned = await secondShell(
      // Through SNS, as README's tour does: Debian 12's AWS CLI (2.9) speaks SQS's query protocol,
      // which the emulator does not serve; SNS works with every CLI.
      `aws --endpoint-url "$AWS_ENDPOINT_URL" sns publish --topic-arn ${topicArn} --message 'not json'`,
    );
    expect(poisoned).toMatchObject({ code: 0 });
    const cli = `"${process.execPath}" "${CLI}"`;
    const stats = await eventually(async () => {
      const result = await secondShell(`${cli} dlq stats`);
      return result.code === 0 && /^1 message in /.test(result.stdout) && result;
    }, 'the poisoned message in dlq stats');
    expect(stats.stdout).toContain(`1 message in ${dlqUrl}`);
    expect(stats.stdout).toMatch(/^ {2}undecodable +decode\/notJson +1 /m);
    const dryRun = await secondShell(`${cli} replay-dlq --dry-run`);
    expect(dryRun).toMatchObject({ code: 0 });
    expect(dryRun.stdout).toContain(
      `Dry run: 1 of 1 message in ${dlqUrl} would move to ${queueUrl}`,
    );

    // Nothing more was printed for people, and neither the address nor the token was logged.
    expect(worker.text).toEqual(block);
    const logged = JSON.stringify(worker.logs);
    expect(logged).not.toContain('jane@example.net');
    expect(logged).not.toContain(token);

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(existsSync(samplePath(publishLine))).toBe(false);
  });

  it('with API_TOKEN set, prints where to use it but never its value', async () => {
    const worker = spawnWorker(
      {
        REDIS_URL: redisServer.url,
        BULLMQ_PREFIX: '{e2e-start}',
        EMULATOR_PORT: '0',
        API_TOKEN: 'operator-chosen-token',
      },
      ['run', '--embedded'],
    );
    children.push(worker);
    await worker.waitForText((line) => line.trim().startsWith('export '), 'the printed block');
    const block = worker.text.join('\n');
    expect(block).not.toContain('operator-chosen-token');
    expect(printed(worker.text, 'API token')).toBe('API token    API_TOKEN, as you set it');
    expect(printed(worker.text, 'curl ')).toMatch(
      /^curl -sS -H "Authorization: Bearer \$API_TOKEN" /,
    );
  });

  it.each([
    ['EMULATOR_PORT', { HTTP_PORT: '0' }],
    ['HTTP_PORT', { EMULATOR_PORT: '0' }],
  ] as const)(
    'with %s taken by another process, says so in one line and exits 69',
    async (variable, others) => {
      const port = await freePort();
      await listenOn(port, '127.0.0.1');
      const result = spawnSync(process.execPath, [CLI, 'run', '--embedded'], {
        env: {
          PATH: process.env.PATH ?? '',
          REDIS_URL: redisServer.url,
          BULLMQ_PREFIX: '{e2e-start}',
          [variable]: String(port),
          ...others,
        },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(result.status).toBe(69);
      expect(result.stderr).toBe(
        `ses-worker: ${variable} ${port} is in use: another process listens there (${variable === 'EMULATOR_PORT' ? 'an earlier npm start, LocalStack?' : 'an earlier npm start?'}); stop it or choose another port, e.g. ${variable}=${port + 1} npm start (0 picks a free one)\n`,
      );
    },
  );
});
