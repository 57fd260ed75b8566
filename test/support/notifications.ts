/**
 * Distinct SES notifications in bulk, made from the documentation's samples with fresh ids, so
 * every one is its own event (own messageId, feedbackId, recipient) and calls for its own jobs.
 */
import { isRight } from 'fp-ts/Either';
import { decodeSqsBody } from '../../domain/decode';
import type { DomainEvent } from '../../domain/events';
import type { QueueName } from '../../domain/jobs';
import { eventId, routeEvent } from '../../domain/routing';
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

/** The per-event job ids the bodies call for, per queue (metrics jobs are per batch). */
export function expectedJobIds(bodies: readonly string[]): Map<QueueName, Set<string>> {
  const ids = new Map<QueueName, Set<string>>([
    ['suppression', new Set()],
    ['inbound', new Set()],
  ]);
  for (const body of bodies) {
    for (const job of routeEvent(decoded(body))) ids.get(job.queue)!.add(job.id);
  }
  return ids;
}

/** How many distinct events the bodies hold: what `ses_events_total` must add up to. */
export function distinctEvents(bodies: readonly string[]): number {
  return new Set(bodies.map((body) => eventId(decoded(body)))).size;
}

function decoded(body: string): DomainEvent {
  const result = decodeSqsBody(body);
  if (!isRight(result)) throw new Error(`sample does not decode: ${result.left.message}`);
  return result.right;
}
