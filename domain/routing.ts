/**
 * Routing: a DomainEvent in, the jobs it calls for out (DESIGN.md, "Data flow"). Pure.
 *
 * Job ids are derived from the event's own content, never from SNS or SQS ids, so the same
 * notification delivered twice, delivered raw and enveloped, or replayed from the DLQ maps to
 * the same ids, and BullMQ adds it once.
 */
import { receiptVerdicts } from './ses/receiving';
import type { EmailAddress } from './address';
import { countedEvent } from './counting';
import type { DomainEvent, ReceivedEvent } from './events';
import { fnv1a64 } from './hash';
import type {
  EventJobSpec,
  InboundJob,
  JobSpec,
  SuppressionJob,
  SuppressionNotificationData,
} from './jobs';

/** The jobs an event calls for on its own: its suppression and inbound work. */
export function routeEvent(event: DomainEvent): EventJobSpec[] {
  return [...suppressionJobs(event), ...inboundJobs(event)];
}

/**
 * One metrics job for the events of a batch (per-event jobs would double the Redis work of the
 * ingest). Its id is a hash of the event ids, so a batch redelivered whole adds nothing; events
 * redelivered in another batch are recognised by the processor, by event id.
 */
export function metricsJob(events: readonly DomainEvent[]): JobSpec | null {
  if (events.length === 0) return null;
  const counted = events.map((event) => countedEvent(event, eventId(event)));
  return {
    queue: 'metrics',
    name: 'batch',
    id: `metrics/batch/${fnv1a64(counted.map((e) => e.id).sort())}`,
    data: { events: counted },
  };
}

/**
 * One suppression job for a batch's per-address suppression jobs (`routeEvent` makes those):
 * one script call applies them all. Its id is a hash of their ids, so a batch redelivered whole
 * adds nothing; a notification in another batch is recognised by its marker (its own id).
 */
export function suppressionBatchJob(jobs: readonly EventJobSpec[]): JobSpec | null {
  const notifications: SuppressionNotificationData[] = [];
  const seen = new Set<string>();
  for (const job of jobs) {
    // The same notification twice in one batch (raw and enveloped, say) is applied once.
    if (job.queue !== 'suppression' || seen.has(job.id)) continue;
    seen.add(job.id);
    notifications.push({ ...job.data, eventKey: job.id });
  }
  if (notifications.length === 0) return null;
  return {
    queue: 'suppression',
    name: 'batch',
    id: `suppression/batch/${fnv1a64([...seen].sort())}`,
    data: { notifications },
  };
}

/**
 * A stable identity for the event itself. Bounces and complaints have SES's `feedbackId`;
 * events that can happen several times per mail (opens, clicks, deliveries to different
 * recipients) add a hash of what tells them apart.
 */
export function eventId(event: DomainEvent): string {
  const at = (date: Date): string => date.toISOString();
  switch (event.kind) {
    case 'bounce':
      return `bounce/${idPart(event.bounce.feedbackId)}`;
    case 'complaint':
      return `complaint/${idPart(event.complaint.feedbackId)}`;
    case 'send':
    case 'reject':
    case 'renderingFailure':
    case 'received':
      return `${event.kind}/${idPart(event.sesMessageId)}`;
    case 'delivery':
    case 'deliveryDelay':
      return `${event.kind}/${idPart(event.sesMessageId)}/${fnv1a64([at(event.timestamp), ...event.recipients])}`;
    case 'open':
      return `open/${idPart(event.sesMessageId)}/${fnv1a64([at(event.open.timestamp), event.open.ipAddress ?? '', event.open.userAgent ?? ''])}`;
    case 'click':
      return `click/${idPart(event.sesMessageId)}/${fnv1a64([at(event.click.timestamp), event.click.link, event.click.ipAddress ?? '', event.click.userAgent ?? ''])}`;
    case 'subscription':
      return `subscription/${idPart(event.sesMessageId)}/${fnv1a64([event.subscription.contactList, at(event.subscription.timestamp), ...event.recipients])}`;
    case 'sesSubscriptionTest':
      // Raw delivery gives it no id or time of its own; its text is all there is.
      return `sesSubscriptionTest/${fnv1a64([event.message ?? ''])}`;
    case 'sesEventDestinationTest':
      // Raw delivery: one text for every topic, so such notices count once per dedupe window.
      return `sesEventDestinationTest/${idPart(event.sns?.messageId ?? 'raw')}`;
    case 'snsSubscriptionConfirmation':
    case 'snsUnsubscribeConfirmation':
      return `${event.kind}/${idPart(event.sns.messageId)}`;
  }
}

function suppressionJobs(event: DomainEvent): EventJobSpec[] {
  const job = (address: EmailAddress, data: SuppressionJob, id: string): EventJobSpec => ({
    queue: 'suppression',
    name: data.kind,
    id: `suppression/${id}/${idPart(address)}`,
    data,
  });
  switch (event.kind) {
    case 'bounce': {
      const { bounce } = event;
      return firstPerAddress(bounce.bouncedRecipients).map((recipient) =>
        job(
          recipient.emailAddress,
          {
            kind: 'bounce',
            ...about(event, recipient.emailAddress),
            feedbackId: bounce.feedbackId,
            bounceType: bounce.bounceType,
            bounceSubType: bounce.bounceSubType,
            status: recipient.status ?? null,
            diagnosticCode: recipient.diagnosticCode ?? null,
          },
          `bounce/${idPart(bounce.feedbackId)}`,
        ),
      );
    }
    case 'complaint': {
      const { complaint } = event;
      return event.recipients.map((address) =>
        job(
          address,
          {
            kind: 'complaint',
            ...about(event, address),
            feedbackId: complaint.feedbackId,
            complaintFeedbackType: complaint.complaintFeedbackType ?? null,
            complaintSubType: complaint.complaintSubType ?? null,
          },
          `complaint/${idPart(complaint.feedbackId)}`,
        ),
      );
    }
    case 'delivery':
      return event.recipients.map((address) =>
        job(
          address,
          { kind: 'delivery', ...about(event, address) },
          `delivery/${idPart(event.sesMessageId)}`,
        ),
      );
    case 'subscription': {
      const { subscription } = event;
      const preferences = subscription.newTopicPreferences;
      return event.recipients.map((address) =>
        job(
          address,
          {
            kind: 'subscription',
            ...about(event, address),
            contactList: subscription.contactList,
            unsubscribeAll: preferences.unsubscribeAll,
            topics: (preferences.topicSubscriptionStatus ?? []).map((topic) => ({
              topicName: topic.topicName,
              subscriptionStatus: topic.subscriptionStatus,
            })),
          },
          eventId(event),
        ),
      );
    }
    // Listed rather than defaulted: a new kind must be routed on purpose.
    case 'send':
    case 'reject':
    case 'open':
    case 'click':
    case 'renderingFailure':
    case 'deliveryDelay':
    case 'received':
    case 'sesSubscriptionTest':
    case 'sesEventDestinationTest':
    case 'snsSubscriptionConfirmation':
    case 'snsUnsubscribeConfirmation':
      return [];
  }
}

function inboundJobs(event: DomainEvent): EventJobSpec[] {
  if (event.kind !== 'received') return [];
  return [
    { queue: 'inbound', name: 'received', id: `inbound/${eventId(event)}`, data: inbound(event) },
  ];
}

function inbound(event: ReceivedEvent): InboundJob {
  const { mail, receipt } = event;
  return {
    sesMessageId: event.sesMessageId,
    timestamp: mail.timestamp.toISOString(),
    recipients: event.recipients,
    mailFrom: mail.source,
    subject: mail.commonHeaders?.subject ?? null,
    action: receipt.action,
    verdicts: { ...receiptVerdicts(receipt), dmarcPolicy: receipt.dmarcPolicy ?? null },
    content: event.content,
  };
}

type SendingEvent = Extract<DomainEvent, { readonly configurationSet: string | null }>;

function about(event: SendingEvent, address: EmailAddress) {
  return {
    address,
    sesMessageId: event.sesMessageId,
    timestamp: event.timestamp.toISOString(),
    configurationSet: event.configurationSet,
    source: event.mail.source,
  };
}

/** SES lists an address once per bounce; should it not, the first entry's details are kept. */
function firstPerAddress<R extends { readonly emailAddress: EmailAddress }>(
  recipients: readonly R[],
): R[] {
  const seen = new Set<string>();
  return recipients.filter((r) => !seen.has(r.emailAddress) && seen.add(r.emailAddress));
}

/**
 * BullMQ refuses ids containing `:` (its key separator); `%` is escaped first so the
 * encoding stays one-to-one.
 */
export function idPart(text: string): string {
  return text.replace(/%/g, '%25').replace(/:/g, '%3A');
}

/**
 * A job id fit for logs: path segments that hold an address (suppression and forward ids do)
 * become `<address>`. Logs carry no addresses; `replay-failed --dry-run` lists the full ids.
 */
export function redactJobId(id: string): string {
  return id
    .split('/')
    .map((part) => (part.includes('@') ? '<address>' : part))
    .join('/');
}

/**
 * The jobs without the raw message in `received` jobs: without forwarding no processor reads
 * it, and it would sit in Redis, whole (often hundreds of KB), for as long as completed jobs are
 * kept. Applied by the ingest when `FORWARD_RULES` is unset.
 */
export function withoutInboundContent<J extends JobSpec | EventJobSpec>(jobs: readonly J[]): J[] {
  return jobs.map((job) =>
    job.queue === 'inbound' && job.name === 'received'
      ? { ...job, data: { ...job.data, content: null } }
      : job,
  );
}
