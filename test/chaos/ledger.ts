/**
 * What the chaos suite publishes, and what must come of it: SES notifications of every kind made
 * from the fixtures (test/fixtures/) with ids and addresses of their own, some published twice,
 * and the outcomes each one calls for — written down here from the SES formats and the suppression
 * policy in docs/suppression.md, not computed by the worker's own routing, so that the ledger can disagree with it.
 */
import { fixtureJson } from '../support/fixtures';

// Fixture JSON, reshaped freely: the worker's decoder, not this type, checks the result.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

/** Where inbound mail goes (FORWARD_RULES): info@ has its own target, the domain another. */
export const FORWARD_RULES = {
  'info@example.com': ['ops@example.net'],
  '@example.com': ['team@example.net'],
} as const;
export const FORWARD_FROM = 'forwarder@example.com';
/** The subscription fixture's contact list and topic: its unsubscribes land in these scopes. */
export const LIST_SCOPE = 'list:ContactListName';
export const TOPIC_SCOPE = 'topic:ContactListName:ExampleTopicName';

export type SuppressionReason = 'bounce' | 'complaint' | 'transient-bounces' | 'unsubscribe';

/** An entry the suppression list must hold: its strongest reason, and how many notifications. */
export interface ExpectedEntry {
  readonly reason: SuppressionReason;
  readonly count: number;
}

export interface Ledger {
  /** SES notification texts (or poison), in publish order; a duplicate appears twice. */
  readonly publications: readonly string[];
  readonly unique: number;
  readonly duplicates: number;
  /** Unique notifications per kind, for the progress lines. */
  readonly kinds: ReadonlyMap<string, number>;
  /** Scope → address → entry. Every scope named here must hold exactly these addresses. */
  readonly suppressed: ReadonlyMap<string, ReadonlyMap<string, ExpectedEntry>>;
  /** `<sesMessageId> <target>`: each must reach the SMTP server exactly once. */
  readonly forwards: ReadonlySet<string>;
  /** Poison marker → its text and times published: each publication must be in the DLQ. */
  readonly poison: ReadonlyMap<string, PoisonMessage>;
}

export interface PoisonMessage {
  /** What was published (the SNS `Message`): the DLQ must hold it unchanged. */
  readonly text: string;
  published: number;
}

export const forwardKey = (sesMessageId: string, target: string): string =>
  `${sesMessageId} ${target}`;

/** The marker every poison message carries, whatever its flavour. */
export const POISON_MARKER = /chaos-poison-\d+/;

/** mulberry32: a small seeded PRNG, so a run can be repeated exactly (CHAOS_SEED). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Builds the notifications of one deck entry and writes down their expected outcomes. */
class Builder {
  private next = 0;
  readonly notifications: string[] = [];
  readonly kinds = new Map<string, number>();
  readonly suppressed = new Map<string, Map<string, ExpectedEntry>>([
    ['global', new Map()],
    [LIST_SCOPE, new Map()],
    [TOPIC_SCOPE, new Map()],
  ]);
  readonly forwards = new Set<string>();
  readonly poison = new Map<string, PoisonMessage>();

  /** A fresh number for ids and addresses. */
  n(): number {
    return this.next++;
  }

  add(kind: string, json: Json | string): void {
    this.notifications.push(typeof json === 'string' ? json : JSON.stringify(json));
    this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + 1);
  }

  suppress(scope: string, address: string, reason: SuppressionReason, count = 1): void {
    this.suppressed.get(scope)!.set(address, { reason, count });
  }
}

const fixture = (name: string): Json => fixtureJson<Json>(name);

/** mail with a message id and destination of its own. */
const mailOf = (json: Json, messageId: string, destination: string[]): Json => ({
  ...(json.mail as Json),
  messageId,
  destination,
  ...(json.mail.commonHeaders ? { commonHeaders: { ...json.mail.commonHeaders, messageId } } : {}),
});

/** A minute per notification: distinct event times, inside any window. */
const minutesAfter = (iso: string, minutes: number): string =>
  new Date(Date.parse(iso) + minutes * 60_000).toISOString();

function bounce(json: Json, n: number, recipients: { emailAddress: string }[], at?: string): Json {
  const template = json.bounce.bouncedRecipients[0] as Json;
  return {
    ...json,
    bounce: {
      ...json.bounce,
      feedbackId: `chaos-feedback-${n}`,
      bouncedRecipients: recipients.map((r) => ({ ...template, ...r })),
      ...(at === undefined ? {} : { timestamp: at }),
    },
    mail: mailOf(
      json,
      `chaos-${n}`,
      recipients.map((r) => r.emailAddress),
    ),
  };
}

function complaint(json: Json, n: number, address: string): Json {
  return {
    ...json,
    complaint: {
      ...json.complaint,
      feedbackId: `chaos-feedback-${n}`,
      complainedRecipients: [{ emailAddress: address }],
    },
    mail: mailOf(json, `chaos-${n}`, [address]),
  };
}

const HARD_BOUNCES = [
  'event-publishing/bounce.json',
  'notifications/bounce-permanent-general.json',
  'notifications/bounce-permanent-suppressed.json',
  'notifications/bounce-permanent-onaccountsuppressionlist.json',
];
const COMPLAINTS = [
  'event-publishing/complaint.json',
  'notifications/complaint-abuse.json',
  'notifications/complaint-no-feedback-type.json',
  'notifications/complaint-onaccountsuppressionlist.json',
];
const TRANSIENT_BOUNCES = [
  'notifications/bounce-transient-mailboxfull.json',
  'notifications/bounce-undetermined.json',
];
/** Sending events that change no list: only a message id and recipient of their own. */
const PLAIN_EVENTS: Record<string, string> = {
  send: 'event-publishing/send.json',
  open: 'event-publishing/open.json',
  click: 'event-publishing/click.json',
  reject: 'event-publishing/reject.json',
  renderingFailure: 'event-publishing/rendering-failure.json',
};

/** One deck entry: adds one notification (or a group of them) and its expected outcomes. */
type Maker = (b: Builder) => void;

const makers: Record<string, Maker> = {
  hardBounce: (b) => {
    const n = b.n();
    const address = `hard-${n}@example.com`;
    b.add(
      'hardBounce',
      bounce(fixture(HARD_BOUNCES[n % HARD_BOUNCES.length]!), n, [{ emailAddress: address }]),
    );
    b.suppress('global', address, 'bounce');
  },
  hardBounceTwoRecipients: (b) => {
    const n = b.n();
    // Written as SES may write it: a display name and capitals, which the worker normalises.
    const json = bounce(fixture('notifications/bounce-permanent-noemail-two-recipients.json'), n, [
      { emailAddress: `Hard Two <Hard.Two-${n}@Example.com>` },
      { emailAddress: `hard-two-b-${n}@example.org` },
    ]);
    b.add('hardBounce', json);
    b.suppress('global', `hard.two-${n}@example.com`, 'bounce');
    b.suppress('global', `hard-two-b-${n}@example.org`, 'bounce');
  },
  complaint: (b) => {
    const n = b.n();
    const address = `complainer-${n}@example.com`;
    b.add('complaint', complaint(fixture(COMPLAINTS[n % COMPLAINTS.length]!), n, address));
    b.suppress('global', address, 'complaint');
  },
  complaintNotSpam: (b) => {
    const n = b.n();
    // On record only: the address must not be suppressed.
    b.add(
      'complaintNotSpam',
      complaint(fixture('notifications/complaint-not-spam.json'), n, `not-spam-${n}@example.com`),
    );
  },
  bounceThenComplaint: (b) => {
    // Two notifications about one address: the entry counts both, and shows the stronger reason.
    const address = `both-${b.n()}@example.com`;
    const first = b.n();
    b.add(
      'hardBounce',
      bounce(fixture('event-publishing/bounce.json'), first, [{ emailAddress: address }]),
    );
    b.add('complaint', complaint(fixture('event-publishing/complaint.json'), b.n(), address));
    b.suppress('global', address, 'complaint', 2);
  },
  transientBounce: (b) => {
    const n = b.n();
    const json = fixture(TRANSIENT_BOUNCES[n % TRANSIENT_BOUNCES.length]!);
    // One soft bounce is counted, not suppressed.
    b.add('transientBounce', bounce(json, n, [{ emailAddress: `soft-${n}@example.net` }]));
  },
  transientBounceThrice: (b) => {
    // The third within the window suppresses (SUPPRESSION_TRANSIENT_THRESHOLD=3), whatever the
    // order they are processed in; only that one counts on the entry.
    const address = `soft-thrice-${b.n()}@example.net`;
    const json = fixture('notifications/bounce-transient-mailboxfull.json');
    for (let i = 0; i < 3; i++) {
      const at = minutesAfter(json.bounce.timestamp as string, i);
      b.add('transientBounce', bounce(json, b.n(), [{ emailAddress: address }], at));
    }
    b.suppress('global', address, 'transient-bounces');
  },
  delivery: (b) => {
    const n = b.n();
    const address = `delivered-${n}@example.com`;
    const json = fixture(
      n % 2 === 0 ? 'event-publishing/delivery.json' : 'notifications/delivery.json',
    );
    b.add('delivery', {
      ...json,
      delivery: { ...json.delivery, recipients: [address] },
      mail: mailOf(json, `chaos-${n}`, [address]),
    });
  },
  deliveryDelay: (b) => {
    const n = b.n();
    const address = `delayed-${n}@example.com`;
    const json = fixture('event-publishing/delivery-delay.json');
    const recipient = json.deliveryDelay.delayedRecipients[0] as Json;
    b.add('deliveryDelay', {
      ...json,
      deliveryDelay: {
        ...json.deliveryDelay,
        delayedRecipients: [{ ...recipient, emailAddress: address }],
      },
      mail: mailOf(json, `chaos-${n}`, [address]),
    });
  },
  subscription: (b) => {
    const n = b.n();
    const address = `unsubscribed-${n}@example.com`;
    const json = fixture('event-publishing/subscription.json');
    // unsubscribeAll with the topic opted out: the list scope and the topic scope.
    b.add('subscription', { ...json, mail: mailOf(json, `chaos-${n}`, [address]) });
    b.suppress(LIST_SCOPE, address, 'unsubscribe');
    b.suppress(TOPIC_SCOPE, address, 'unsubscribe');
  },
  sesSubscriptionTest: (b) => {
    const json = fixture('notifications/ses-subscription-succeeded.json');
    b.add('sesSubscriptionTest', { ...json, message: `${json.message} (chaos ${b.n()})` });
  },
  receivedUtf8: (b) => {
    const messageId = `chaos-inbound-${b.n()}`;
    const json = fixture('receiving/received-sns-utf8.json');
    b.add('received', { ...json, mail: { ...json.mail, messageId } });
    // info@ by its address rule, Sales@ (the Bcc'd envelope recipient) by the domain rule.
    b.forwards.add(forwardKey(messageId, 'ops@example.net'));
    b.forwards.add(forwardKey(messageId, 'team@example.net'));
  },
  receivedBase64: (b) => {
    const messageId = `chaos-inbound-${b.n()}`;
    const json = fixture('receiving/received-sns-base64.json');
    b.add('received', { ...json, mail: { ...json.mail, messageId } });
    b.forwards.add(forwardKey(messageId, 'team@example.net'));
  },
  receivedWithoutContent: (b) => {
    const n = b.n();
    // A Stop or Lambda action delivers no message to read: nothing to forward.
    const json = fixture(
      n % 2 === 0 ? 'receiving/received-stop.json' : 'receiving/received-lambda.json',
    );
    b.add('receivedWithoutContent', {
      ...json,
      mail: { ...json.mail, messageId: `chaos-inbound-${n}` },
    });
  },
  poison: (b) => {
    const n = b.n();
    const marker = `chaos-poison-${n}`;
    const flavours = [
      `not JSON at all: ${marker}`,
      JSON.stringify({ notificationType: 'Bounce', note: marker }),
      JSON.stringify({ eventType: 'Teleport', note: marker, mail: {} }),
    ];
    const text = flavours[n % flavours.length]!;
    b.add('poison', text);
    b.poison.set(marker, { text, published: 1 });
  },
};

for (const [kind, file] of Object.entries(PLAIN_EVENTS)) {
  makers[kind] = (b) => {
    const n = b.n();
    const json = fixture(file);
    b.add(kind, { ...json, mail: mailOf(json, `chaos-${n}`, [`${kind}-${n}@example.com`]) });
  };
}

/** How often each entry comes up in a deck of 91 entries (94 notifications). */
const DECK: Record<string, number> = {
  hardBounce: 12,
  hardBounceTwoRecipients: 2,
  complaint: 8,
  complaintNotSpam: 1,
  bounceThenComplaint: 1,
  transientBounce: 4,
  transientBounceThrice: 1,
  delivery: 14,
  send: 12,
  open: 7,
  click: 5,
  deliveryDelay: 3,
  reject: 2,
  renderingFailure: 1,
  subscription: 3,
  sesSubscriptionTest: 1,
  receivedUtf8: 5,
  receivedBase64: 5,
  receivedWithoutContent: 1,
  poison: 3,
};

/**
 * `published` notifications in all, `duplicateShare` of them second copies of others, in a
 * shuffled order decided by the seed.
 */
export function buildLedger(published: number, duplicateShare: number, seed: number): Ledger {
  const random = seededRandom(seed);
  const duplicates = Math.floor(published * duplicateShare);
  const wanted = published - duplicates;
  const deck = Object.entries(DECK).flatMap(([kind, times]) => Array<string>(times).fill(kind));
  const b = new Builder();
  while (b.notifications.length < wanted) {
    for (const kind of shuffle([...deck], random)) {
      if (b.notifications.length >= wanted) break;
      // A group must fit whole, or its expectations would not hold.
      const room = wanted - b.notifications.length;
      const groupSize =
        kind === 'transientBounceThrice' ? 3 : kind === 'bounceThenComplaint' ? 2 : 1;
      makers[groupSize <= room ? kind : 'send']!(b);
    }
  }

  const unique = b.notifications;
  const copies = shuffle(
    unique.map((_, i) => i),
    random,
  ).slice(0, duplicates);
  for (const i of copies) {
    const marker = POISON_MARKER.exec(unique[i]!)?.[0];
    if (marker !== undefined) b.poison.get(marker)!.published++;
  }
  return {
    publications: shuffle([...unique, ...copies.map((i) => unique[i]!)], random),
    unique: unique.length,
    duplicates,
    kinds: b.kinds,
    suppressed: b.suppressed,
    forwards: b.forwards,
    poison: b.poison,
  };
}
