/**
 * The block `npm start` prints: its sample bounce is one SES would send and suppresses the
 * recipient it names, and the block still reads where the fixtures are not installed.
 * test/e2e/start.test.ts runs every printed command.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isRight } from 'fp-ts/Either';
import { decodeSqsBody } from '../../../domain/decode';
import { routeEvent } from '../../../domain/routing';
import {
  SAMPLE_BOUNCE,
  embeddedGuide,
  freshSampleBounce,
  writeSampleBounce,
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
  sampleBounce: '/tmp/ses-worker-sample-x/bounce.json',
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

  it('is published as sent now, under ids of the run: placed in the current windows, counted again on a new run', () => {
    const now = new Date('2026-12-07T10:00:00.000Z');
    const fixture = readFileSync(join(REPO_ROOT, SAMPLE_BOUNCE.file), 'utf8');
    const decoded = decodeSqsBody(freshSampleBounce(fixture, now, 'run1'));
    if (!isRight(decoded) || decoded.right.kind !== 'bounce') throw new Error('no bounce');
    const event = decoded.right;
    expect(event.bounce.timestamp.toISOString()).toBe(now.toISOString());
    expect(event.mail.timestamp.getTime()).toBeLessThan(now.getTime());
    expect(event.mail.messageId).toBe('tour-run1-message');
    expect(event.bounce.feedbackId).toBe('tour-run1-feedback');
    expect(event.bounce.bouncedRecipients.map((r) => r.emailAddress)).toEqual([
      SAMPLE_BOUNCE.recipient,
    ]);
  });

  it('is written to a directory of its own, removed when the run stops', () => {
    const sample = writeSampleBounce();
    if (sample === null) throw new Error('the repository has its fixtures');
    expect(isAbsolute(sample.path)).toBe(true);
    expect(decodeSqsBody(readFileSync(sample.path, 'utf8'))._tag).toBe('Right');
    sample.remove();
    expect(existsSync(dirname(sample.path))).toBe(false);
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
