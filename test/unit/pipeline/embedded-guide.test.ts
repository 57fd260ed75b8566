/**
 * The block `npm start` prints: its sample bounce is one SES would send and suppresses the
 * recipient it names, and the block still reads where the fixtures are not installed.
 * test/e2e/start.test.ts runs every printed command.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isRight } from 'fp-ts/Either';
import { decodeSqsBody } from '../../../domain/decode';
import { routeEvent } from '../../../domain/routing';
import {
  SAMPLE_BOUNCE,
  embeddedGuide,
  sampleBouncePath,
  type EmbeddedGuide,
} from '../../../worker/commands/embeddedGuide';

const REPO_ROOT = resolve(__dirname, '..', '..', '..');

const guide: EmbeddedGuide = {
  endpoint: 'http://127.0.0.1:4566',
  region: 'us-east-1',
  topicArn: 'arn:aws:sns:us-east-1:000000000000:ses-events',
  queueUrl: 'http://sqs.us-east-1.localhost:4566/000000000000/ses-events-queue',
  dlqUrl: 'http://sqs.us-east-1.localhost:4566/000000000000/ses-events-dlq',
  statusPageUrl: 'http://127.0.0.1:8080/',
  apiToken: { generated: 'made-for-this-run' },
  sampleBounce: SAMPLE_BOUNCE.file,
};

describe('the sample bounce', () => {
  it('is a permanent bounce of the recipient the block looks up, routed to the suppression list', () => {
    const decoded = decodeSqsBody(readFileSync(join(REPO_ROOT, SAMPLE_BOUNCE.file), 'utf8'));
    if (!isRight(decoded)) throw new Error(decoded.left.message);
    const event = decoded.right;
    if (event.kind !== 'bounce') throw new Error(`decoded as ${event.kind}`);
    expect(event.bounce.bounceType).toBe('Permanent');
    expect(event.bounce.bouncedRecipients.map((r) => r.emailAddress)).toEqual([
      SAMPLE_BOUNCE.recipient,
    ]);
    expect(routeEvent(event).map((job) => job.queue)).toContain('suppression');
  });

  it('is named relative to the repository root, and by its absolute path outside it', () => {
    expect(sampleBouncePath(REPO_ROOT)).toBe(SAMPLE_BOUNCE.file);
    expect(sampleBouncePath(join(REPO_ROOT, 'docs'))).toBe(join(REPO_ROOT, SAMPLE_BOUNCE.file));
  });
});

describe('embeddedGuide', () => {
  it('stays short', () => {
    expect(embeddedGuide(guide).trim().split('\n').length).toBeLessThanOrEqual(15);
  });

  it('without the fixtures, says where samples are instead of printing a command that fails', () => {
    const text = embeddedGuide({ ...guide, sampleBounce: null });
    expect(text).not.toContain('sns publish');
    expect(text).not.toContain('curl');
    expect(text).toContain('test/fixtures/');
    expect(text).toContain(`export AWS_ENDPOINT_URL=${guide.endpoint} `);
  });
});
