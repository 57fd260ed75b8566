/**
 * Each event kind as people call it, for what people read (the status page's legend). The kinds
 * themselves stay the names in metrics, logs and job data.
 */
import type { DomainEventKind } from './events';

export const EVENT_KIND_LABELS: Readonly<Record<DomainEventKind, string>> = {
  send: 'Send',
  reject: 'Reject',
  bounce: 'Bounce',
  complaint: 'Complaint',
  delivery: 'Delivery',
  open: 'Open',
  click: 'Click',
  renderingFailure: 'Rendering failure',
  deliveryDelay: 'Delivery delay',
  subscription: 'Subscription preferences change',
  received: 'Received mail',
  sesSubscriptionTest: 'SES notification test',
  sesEventDestinationTest: 'SES event destination test',
  snsSubscriptionConfirmation: 'SNS subscription confirmation',
  snsUnsubscribeConfirmation: 'SNS unsubscribe confirmation',
};
