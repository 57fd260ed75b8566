/**
 * What `run --embedded` (`npm start`) prints once it runs: where everything is, and commands
 * to paste. Printed on stdout between the JSON log lines, TTY or not (the e2e test reads it).
 * The commands carry the endpoint, region and credentials themselves, so they work in any
 * shell and with AWS CLI v1, which ignores AWS_ENDPOINT_URL. Nothing here comes from a message.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { EMULATOR_CREDENTIALS } from '../../adapters/emulator/embedded';

/** The sample the guide publishes: SES's documented bounce, one recipient, a hard bounce. */
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
  /** The sample bounce as the shell will find it, or null where the fixtures are not installed. */
  readonly sampleBounce: string | null;
}

/**
 * The sample bounce's path for a shell in `cwd`: relative when under it (`test/fixtures/…` from
 * the repository root), else absolute; null when the package was installed without its tests.
 */
export function sampleBouncePath(cwd: string): string | null {
  // The repository root, from dist/worker/commands (the build) or worker/commands (the tests).
  const absolute = [resolve(__dirname, '..', '..', '..'), resolve(__dirname, '..', '..')]
    .map((root) => resolve(root, SAMPLE_BOUNCE.file))
    .find(existsSync);
  if (absolute === undefined) return null;
  const fromCwd = relative(cwd, absolute);
  return fromCwd.startsWith('..') || isAbsolute(fromCwd) ? absolute : fromCwd;
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
    'In another shell, for ses-worker dlq stats / replay-dlq and the AWS CLI (v1 needs --endpoint-url):',
    `  export AWS_ENDPOINT_URL=${guide.endpoint} AWS_REGION=${guide.region} AWS_DEFAULT_REGION=${guide.region} ${credentials} SQS_QUEUE_URL=${guide.queueUrl} SQS_DLQ_URL=${guide.dlqUrl}`,
    '',
  ];
  return lines.join('\n');
}
