/**
 * What `run --embedded` (`npm start`) prints once it runs: where everything is, and commands
 * to paste. Printed on stdout between the JSON log lines, TTY or not (the e2e test reads it).
 * The commands carry the endpoint, region and credentials themselves, so they work in any
 * shell and with AWS CLIs before 2.13 (v1, Debian 12's 2.9), which ignore AWS_ENDPOINT_URL.
 * Nothing here comes from a message.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EMULATOR_CREDENTIALS } from '../../adapters/emulator/embedded';

/**
 * The sample the guide publishes: SES's documented bounce, one recipient, a hard bounce,
 * re-dated to the moment of the run (`freshSampleBounce`).
 */
export const SAMPLE_BOUNCE = {
  file: 'test/fixtures/notifications/bounce-permanent-general.json',
  recipient: 'jane@example.net',
} as const;

export interface EmbeddedGuide {
  readonly endpoint: string;
  readonly region: string;
  readonly topicArn: string;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  readonly statusPageUrl: string;
  /** A token made for this run is shown; one the operator set (API_TOKEN) never is. */
  readonly apiToken: { readonly generated: string } | 'configured';
  /** The fresh sample bounce's file, or null where the fixtures are not installed. */
  readonly sampleBounce: string | null;
}

/** The repository's copy of the sample, or null when the package was installed without its tests. */
function sampleFixture(): string | null {
  // The repository root, from dist/worker/commands (the build) or worker/commands (the tests).
  return (
    [resolve(__dirname, '..', '..', '..'), resolve(__dirname, '..', '..')]
      .map((root) => resolve(root, SAMPLE_BOUNCE.file))
      .find(existsSync) ?? null
  );
}

/**
 * The sample bounce as if SES sent it now, under ids of its own. The fixture is dated 2024: the
 * status page's charts and the reputation windows place an event by SES's timestamp, so the
 * fixture as it is would show nowhere; and a second run publishing the same ids would be
 * counted once (the metrics dedupe by event id).
 */
export function freshSampleBounce(fixtureText: string, now: Date, runId: string): string {
  const notification = JSON.parse(fixtureText) as {
    mail: { timestamp: string; messageId: string };
    bounce: { timestamp: string; feedbackId: string };
  };
  const sent = new Date(now.getTime() - 2000).toISOString();
  notification.mail.timestamp = sent;
  notification.mail.messageId = `tour-${runId}-message`;
  notification.bounce.timestamp = now.toISOString();
  notification.bounce.feedbackId = `tour-${runId}-feedback`;
  return `${JSON.stringify(notification, null, 2)}\n`;
}

export interface SampleFile {
  readonly path: string;
  remove(): void;
}

/**
 * Writes the fresh sample to a directory of its own under the system's temporary directory
 * (mkdtemp: no fixed name another user could have planted), removed when the run stops.
 */
export function writeSampleBounce(now = new Date()): SampleFile | null {
  const fixture = sampleFixture();
  if (fixture === null) return null;
  const dir = mkdtempSync(join(tmpdir(), 'ses-worker-sample-'));
  const path = join(dir, 'bounce.json');
  const runId = randomBytes(6).toString('hex');
  writeFileSync(path, freshSampleBounce(readFileSync(fixture, 'utf8'), now, runId));
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function embeddedGuide(guide: EmbeddedGuide): string {
  const { accessKeyId, secretAccessKey } = EMULATOR_CREDENTIALS;
  const credentials = `AWS_ACCESS_KEY_ID=${accessKeyId} AWS_SECRET_ACCESS_KEY=${secretAccessKey}`;
  const bearer =
    guide.apiToken === 'configured'
      ? `"Authorization: Bearer $API_TOKEN"`
      : `'Authorization: Bearer ${guide.apiToken.generated}'`;
  const lines = [
    '',
    'ses-worker is running on the embedded emulator (in memory: it all ends with this process)',
    `  endpoint     ${guide.endpoint}  (region ${guide.region}, credentials: any)`,
    `  topic        ${guide.topicArn}`,
    `  queue        ${guide.queueUrl}`,
    `  DLQ          ${guide.dlqUrl}`,
    `  status page  ${guide.statusPageUrl}`,
    guide.apiToken === 'configured'
      ? '  API token    API_TOKEN, as you set it'
      : `  API token    ${guide.apiToken.generated}  (made for this run; set API_TOKEN to choose one)`,
    ...(guide.sampleBounce === null
      ? ['Sample notifications to publish are in the repository, under test/fixtures/.']
      : [
          'Publish a sample bounce, then look its recipient up:',
          `  ${credentials} aws --endpoint-url ${guide.endpoint} --region ${guide.region} sns publish --topic-arn ${guide.topicArn} --message file://${guide.sampleBounce}`,
          `  curl -sS -H ${bearer} ${new URL(`suppressions/${SAMPLE_BOUNCE.recipient}`, guide.statusPageUrl).href}`,
        ]),
    'In another shell, for ses-worker dlq stats / replay-dlq and the AWS CLI (before 2.13 it needs --endpoint-url):',
    `  export AWS_ENDPOINT_URL=${guide.endpoint} AWS_REGION=${guide.region} AWS_DEFAULT_REGION=${guide.region} ${credentials} SQS_QUEUE_URL=${guide.queueUrl} SQS_DLQ_URL=${guide.dlqUrl}`,
    '',
  ];
  return lines.join('\n');
}
