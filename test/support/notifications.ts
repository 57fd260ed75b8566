/**
 * Distinct SES notifications in bulk, made from the documentation's samples with fresh ids, so
 * every one is its own event (own messageId, feedbackId, recipient) and calls for its own jobs.
 */
import { isRight } from 'fp-ts/Either';
import { decodeSqsBody } from '../../domain/decode';
import { QUEUE_NAMES, type QueueName } from '../../domain/jobs';
import { routeEvent } from '../../domain/routing';
import { fixtureJson } from './fixtures';

// Fixture JSON, reshaped freely: the decoder, not this type, checks the result.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const templates: readonly [string, (n: number, json: Json) => Json][] = [
  [
    'notifications/bounce-permanent-general.json',
    (n, j) => ({
      ...j,
      bounce: {
        ...j.bounce,
        feedbackId: `fb-bounce-${n}`,
        bouncedRecipients: [
          { ...j.bounce.bouncedRecipients[0], emailAddress: `bounced-${n}@example.com` },
        ],
      },
    }),
  ],
  [
    'notifications/complaint-abuse.json',
    (n, j) => ({
      ...j,
      complaint: {
        ...j.complaint,
        feedbackId: `fb-complaint-${n}`,
        complainedRecipients: [{ emailAddress: `complainer-${n}@example.com` }],
      },
    }),
  ],
  [
    'event-publishing/delivery.json',
    (n, j) => ({ ...j, delivery: { ...j.delivery, recipients: [`delivered-${n}@example.com`] } }),
  ],
  ['event-publishing/open.json', (_n, j) => j],
  ['receiving/received-sns-utf8.json', (_n, j) => j],
];

/** The n-th synthetic notification, as the SES JSON text SNS would publish. */
export function syntheticNotification(n: number): string {
  const [name, vary] = templates[n % templates.length]!;
  const json = vary(n, fixtureJson<Json>(name));
  return JSON.stringify({ ...json, mail: { ...json.mail, messageId: `synthetic-${n}` } });
}

export function syntheticNotifications(count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => syntheticNotification(from + i));
}

/** The job ids the bodies call for, per queue (what the worker must end up with). */
export function expectedJobIds(bodies: readonly string[]): Map<QueueName, Set<string>> {
  const ids = new Map<QueueName, Set<string>>(QUEUE_NAMES.map((q) => [q, new Set()]));
  for (const body of bodies) {
    const decoded = decodeSqsBody(body);
    if (!isRight(decoded)) throw new Error(`sample does not decode: ${decoded.left.message}`);
    for (const job of routeEvent(decoded.right)) ids.get(job.queue)!.add(job.id);
  }
  return ids;
}
