/**
 * What the metrics queue needs to know about an event: its bounded facts, taken at ingest so
 * the job carries no address, header or free text (DESIGN.md, "Metrics").
 */
import { receiptVerdicts } from './ses/receiving';
import type { DomainEvent } from './events';
import type { CountedEvent } from './jobs';

export function countedEvent(event: DomainEvent, id: string): CountedEvent {
  const base = {
    id,
    kind: event.kind,
    configurationSet: 'configurationSet' in event ? event.configurationSet : null,
    at: event.timestamp === null ? null : event.timestamp.toISOString(),
    recipients: event.recipients.length,
    identity:
      'configurationSet' in event ? sendingIdentity(event.mail.sourceArn, event.mail.source) : null,
  };
  switch (event.kind) {
    case 'bounce':
      return {
        ...base,
        bounce: {
          bounceType: event.bounce.bounceType,
          bounceSubType: event.bounce.bounceSubType,
        },
      };
    case 'complaint':
      return {
        ...base,
        complaint: {
          complaintFeedbackType: event.complaint.complaintFeedbackType ?? null,
          complaintSubType: event.complaint.complaintSubType ?? null,
        },
      };
    case 'delivery':
      return {
        ...base,
        delivery: { processingTimeMillis: event.delivery.processingTimeMillis ?? null },
      };
    case 'deliveryDelay':
      return { ...base, deliveryDelay: { delayType: event.deliveryDelay.delayType } };
    case 'renderingFailure':
      // A template name is chosen by the sending account (SES allows 64 characters of
      // [A-Za-z0-9_-]); the processor caps the label.
      return { ...base, renderingFailure: { templateName: event.failure.templateName } };
    case 'received': {
      const { receipt } = event;
      return {
        ...base,
        received: {
          action: receipt.action.type,
          verdicts: receiptVerdicts(receipt),
        },
      };
    }
    case 'send':
    case 'reject':
    case 'open':
    case 'click':
    case 'subscription':
    case 'sesSubscriptionTest':
    case 'sesEventDestinationTest':
    case 'snsSubscriptionConfirmation':
    case 'snsUnsubscribeConfirmation':
      return base;
  }
}

/**
 * The sending identity, as a domain: the identity SES authorised the mail under (`sourceArn`,
 * `…:identity/example.com`), else the domain of `mail.source`. An email-address identity
 * (`…:identity/sender@example.com`) is reduced to its domain, so no address ever becomes a
 * label. Null when neither names a plausible domain.
 */
export function sendingIdentity(sourceArn: string | undefined, source: string): string | null {
  return domainOf(identityInArn(sourceArn)) ?? domainOf(addressPart(source));
}

const IDENTITY = ':identity/';

/**
 * What follows `:identity/` in the ARN. Found by index: `/:identity\/(.+)$/` takes time
 * quadratic in the length of an ARN that repeats `:identity/` and ends in a newline (seconds
 * for one 256 KiB message, found by npm run fuzz).
 */
function identityInArn(sourceArn: string | undefined): string | null {
  const at = sourceArn?.indexOf(IDENTITY) ?? -1;
  return at === -1 ? null : sourceArn!.slice(at + IDENTITY.length);
}

/** `Name <a@b.example>` → `a@b.example`; a bare address as it is. */
function addressPart(source: string): string {
  const angled = /<([^<>]*)>\s*$/.exec(source);
  return (angled?.[1] ?? source).trim();
}

const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

/** The domain of an address or a domain; null unless it is a well-formed hostname. */
function domainOf(text: string | null): string | null {
  if (text === null) return null;
  const domain = text.slice(text.lastIndexOf('@') + 1).toLowerCase();
  return HOSTNAME.test(domain) ? domain : null;
}
