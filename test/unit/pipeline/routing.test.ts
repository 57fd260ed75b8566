/**
 * Routing: which jobs each event calls for, under which ids. Ids must be the same whichever
 * way the notification arrives (raw, enveloped, redelivered) and differ between events.
 */
import { isRight } from 'fp-ts/Either';
import fc from 'fast-check';
import { decodeSqsBody } from '../../../domain/decode';
import type { DomainEvent } from '../../../domain/events';
import { fnv1a64, fnv1a64Text } from '../../../domain/hash';
import type { JobSpec } from '../../../domain/jobs';
import {
  eventId,
  idPart,
  metricsJob,
  routeEvent,
  suppressionBatchJob,
} from '../../../domain/routing';
import { fixtureJson, fixtureNames, fixtureText, snsBody } from '../../support/fixtures';

const event = (body: string): DomainEvent => {
  const result = decodeSqsBody(body);
  if (!isRight(result)) throw new Error(result.left.message);
  return result.right;
};
const jobsOf = (name: string): JobSpec[] => routeEvent(event(fixtureText(name)));
const byQueue = (jobs: JobSpec[], queue: JobSpec['queue']) => jobs.filter((j) => j.queue === queue);

const samples = [
  ...fixtureNames('event-publishing'),
  ...fixtureNames('notifications'),
  ...fixtureNames('receiving'),
];

describe('routeEvent', () => {
  it.each(samples)('%s: no metrics job of its own, ids unique and free of ":"', (name) => {
    const jobs = jobsOf(name);
    expect(byQueue(jobs, 'metrics')).toHaveLength(0);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(jobs.length);
    for (const job of jobs) expect(job.id).not.toContain(':');
  });

  it.each(samples)(
    '%s: the same ids raw, enveloped and enveloped by another SNS message',
    (name) => {
      const raw = jobsOf(name).map((j) => j.id);
      const json = fixtureJson(name);
      expect(routeEvent(event(snsBody(json))).map((j) => j.id)).toEqual(raw);
      expect(
        routeEvent(
          event(
            snsBody(json, { MessageId: 'another-sns-id', Timestamp: '2030-01-01T00:00:00.000Z' }),
          ),
        ).map((j) => j.id),
      ).toEqual(raw);
    },
  );

  it('gives every sample event its own id', () => {
    const ids = samples.map((name) => eventId(event(fixtureText(name))));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('a permanent bounce with two recipients: one suppression job per address', () => {
    const jobs = byQueue(
      jobsOf('notifications/bounce-permanent-noemail-two-recipients.json'),
      'suppression',
    );
    const { bounce } = fixtureJson<{ bounce: { feedbackId: string } }>(
      'notifications/bounce-permanent-noemail-two-recipients.json',
    );
    // The fixture lists "Jane Doe <Jane.Doe@Example.com>": jobs carry the normalised address.
    const addresses = ['jane.doe@example.com', 'richard@example.org'];
    expect(jobs.map((j) => j.data)).toEqual(
      addresses.map((address): unknown =>
        expect.objectContaining({
          kind: 'bounce',
          address,
          bounceType: 'Permanent',
          bounceSubType: 'NoEmail',
          feedbackId: bounce.feedbackId,
        }),
      ),
    );
    expect(jobs.map((j) => j.id)).toEqual(
      addresses.map((a) => `suppression/bounce/${bounce.feedbackId}/${a}`),
    );
  });

  it('complaints, deliveries and subscriptions go to suppression; sends, opens, clicks do not', () => {
    expect(
      byQueue(jobsOf('notifications/complaint-abuse.json'), 'suppression').map((j) => j.name),
    ).toEqual(['complaint']);
    expect(
      byQueue(jobsOf('event-publishing/delivery.json'), 'suppression').map((j) => j.name),
    ).toEqual(['delivery']);
    expect(
      byQueue(jobsOf('event-publishing/subscription.json'), 'suppression').length,
    ).toBeGreaterThan(0);
    for (const name of ['send', 'open', 'click', 'reject', 'rendering-failure', 'delivery-delay']) {
      expect(byQueue(jobsOf(`event-publishing/${name}.json`), 'suppression')).toEqual([]);
    }
  });

  it('a received notification: one inbound job carrying the content, action and verdicts', () => {
    const jobs = byQueue(jobsOf('receiving/received-sns-base64.json'), 'inbound');
    const json = fixtureJson<{ content: string; mail: { messageId: string } }>(
      'receiving/received-sns-base64.json',
    );
    expect(jobs).toHaveLength(1);
    const job = jobs[0]!;
    expect(job.id).toBe(`inbound/received/${json.mail.messageId}`);
    expect(job.data).toMatchObject({
      sesMessageId: json.mail.messageId,
      content: json.content,
      action: { type: 'SNS', encoding: 'BASE64' },
      verdicts: { spam: 'PASS', virus: 'PASS' },
    });
  });

  it('payloads are plain JSON: they survive a round trip unchanged', () => {
    for (const name of samples) {
      for (const job of jobsOf(name))
        expect(JSON.parse(JSON.stringify(job.data))).toEqual(job.data);
    }
  });

  it('SNS control messages and the setup notice call for no jobs of their own', () => {
    for (const name of [
      'sns/subscription-confirmation.json',
      'sns/unsubscribe-confirmation.json',
      'captured/ses/laravel-ses-setup-notice.json',
    ]) {
      expect(jobsOf(name)).toEqual([]);
    }
  });

  it('two opens of one mail at different times are different events', () => {
    const json = fixtureJson<{ open: { timestamp: string } }>('event-publishing/open.json');
    const later = { ...json, open: { ...json.open, timestamp: '2030-01-01T00:00:00.000Z' } };
    expect(eventId(event(JSON.stringify(later)))).not.toBe(eventId(event(JSON.stringify(json))));
  });
});

describe('metricsJob', () => {
  const events = [
    'event-publishing/open.json',
    'notifications/delivery.json',
    'sns/subscription-confirmation.json',
  ].map((name) => event(fixtureText(name)));

  it('one job for the batch, naming each event with its id, kind and bounded facts', () => {
    const job = metricsJob(events);
    const at = (e: DomainEvent) => e.timestamp!.toISOString();
    expect(job?.queue).toBe('metrics');
    expect(job?.data).toEqual({
      events: [
        {
          id: eventId(events[0]!),
          kind: 'open',
          configurationSet: 'ConfigSet',
          at: at(events[0]!),
          recipients: 1,
          identity: 'example.com',
        },
        {
          id: eventId(events[1]!),
          kind: 'delivery',
          configurationSet: null,
          at: at(events[1]!),
          recipients: events[1]!.recipients.length,
          identity: 'example.com',
          delivery: { processingTimeMillis: expect.any(Number) },
        },
        {
          id: eventId(events[2]!),
          kind: 'snsSubscriptionConfirmation',
          configurationSet: null,
          at: at(events[2]!),
          recipients: 0,
          identity: null,
        },
      ],
    });
    expect(job?.id).not.toContain(':');
  });

  it('the same events in any order make the same job id; other events another', () => {
    expect(metricsJob([...events].reverse())?.id).toBe(metricsJob(events)?.id);
    expect(metricsJob(events.slice(1))?.id).not.toBe(metricsJob(events)?.id);
  });

  it('no events, no job', () => {
    expect(metricsJob([])).toBeNull();
  });
});

describe('suppressionBatchJob', () => {
  const perEvent = samples.flatMap((name) => routeEvent(event(fixtureText(name))));
  const perAddress = perEvent.filter((job) => job.queue === 'suppression');

  it('carries every per-address notification under its id, and no other job', () => {
    const job = suppressionBatchJob(perEvent);
    expect(perAddress.length).toBeGreaterThan(5);
    expect(job).toMatchObject({ queue: 'suppression', name: 'batch' });
    expect(job?.id).toMatch(/^suppression\/batch\/[0-9a-f]{16}$/);
    expect(job?.data).toEqual({
      notifications: perAddress.map((spec) => ({ ...spec.data, eventKey: spec.id })),
    });
  });

  it('the same notifications in any order, or repeated, make the same job; others another', () => {
    const id = suppressionBatchJob(perAddress)?.id;
    expect(suppressionBatchJob([...perAddress].reverse())?.id).toBe(id);
    const repeated = suppressionBatchJob([...perAddress, perAddress[0]!]);
    expect(repeated?.id).toBe(id);
    expect(repeated?.data).toEqual(suppressionBatchJob(perAddress)?.data);
    expect(suppressionBatchJob(perAddress.slice(1))?.id).not.toBe(id);
  });

  it('no suppression work, no job', () => {
    expect(suppressionBatchJob(perEvent.filter((job) => job.queue !== 'suppression'))).toBeNull();
  });
});

describe('idPart', () => {
  it('removes ":" and stays one-to-one', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        expect(idPart(a)).not.toContain(':');
        if (a !== b) expect(idPart(a)).not.toBe(idPart(b));
      }),
    );
  });
});

describe('fnv1a64', () => {
  it('matches the published FNV-1a 64 test vectors', () => {
    expect(fnv1a64Text('')).toBe('cbf29ce484222325');
    expect(fnv1a64Text('a')).toBe('af63dc4c8601ec8c');
    expect(fnv1a64Text('foobar')).toBe('85944171f73967e8');
  });
  it('tells apart part boundaries', () => {
    expect(fnv1a64(['ab', 'c'])).not.toBe(fnv1a64(['a', 'bc']));
    expect(fnv1a64(['', 'a'])).not.toBe(fnv1a64(['a', '']));
  });
});

describe('fnv1a64Text against a BigInt reference', () => {
  const reference = (text: string): string => {
    let hash = 0xcbf29ce484222325n;
    for (const byte of new TextEncoder().encode(text)) {
      hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
    }
    return hash.toString(16).padStart(16, '0');
  };
  it('agrees on any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
        expect(fnv1a64Text(text)).toBe(reference(text));
      }),
    );
  });
});
