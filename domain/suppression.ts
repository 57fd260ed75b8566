/**
 * The suppression list's vocabulary and policy: which notifications put an address on the list,
 * in which scope, why, and with what evidence. Pure: the store (adapters/redis) applies the
 * changes this decides, atomically and once per notification.
 */
import type { EmailAddress } from './address';
import type { SuppressionJob } from './jobs';

/**
 * Where an entry applies. `global`: never send to the address. `list:<contactList>`: the
 * address unsubscribed from the whole contact list. `topic:<contactList>:<topic>`: it opted
 * out of one topic. SES contact-list and topic names cannot hold `:` or spaces.
 */
export type SuppressionScope = 'global' | `list:${string}` | `topic:${string}:${string}`;

const NAME = '[^:\\s]{1,128}';
const SCOPE_PATTERN = new RegExp(`^(?:global|list:${NAME}|topic:${NAME}:${NAME})$`);

export function parseScope(text: string): SuppressionScope | null {
  return SCOPE_PATTERN.test(text) ? (text as SuppressionScope) : null;
}

export const listScope = (contactList: string): SuppressionScope => `list:${contactList}`;
export const topicScope = (contactList: string, topic: string): SuppressionScope =>
  `topic:${contactList}:${topic}`;

/**
 * Why an address is suppressed, strongest first: an entry that is suppressed for several
 * reasons shows the strongest, with the notification that established it.
 */
export const SUPPRESSION_REASONS = [
  'complaint',
  'bounce',
  'transient-bounces',
  'unsubscribe',
  'manual',
] as const;
export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number];

export const isSuppressionReason = (text: string): text is SuppressionReason =>
  (SUPPRESSION_REASONS as readonly string[]).includes(text);

/** Strength of a reason: higher wins when an entry is suppressed again for another reason. */
export const reasonRank = (reason: SuppressionReason): number =>
  SUPPRESSION_REASONS.length - SUPPRESSION_REASONS.indexOf(reason);

/** What a change records about the notification (or operator) behind it. Absent = unknown. */
export interface SuppressionEvidence {
  /** When it happened: the SES event's time, or the operator's request. ISO 8601. */
  readonly at: string;
  readonly kind: SuppressionJob['kind'] | 'manual' | 'import';
  readonly sesMessageId?: string;
  readonly feedbackId?: string;
  readonly bounceType?: string;
  readonly bounceSubType?: string;
  readonly status?: string;
  readonly diagnosticCode?: string;
  readonly complaintFeedbackType?: string;
  readonly configurationSet?: string;
  /** The sending address of the mail the notification is about. */
  readonly source?: string;
  readonly note?: string;
  /** Pulled from SES's account-level list: where it came from and SES's own reason. */
  readonly origin?: 'ses';
  readonly sesReason?: string;
}

/**
 * A note is copied into the entry, its history and the audit stream, whichever way it comes
 * (the API, `suppression add|remove --note`, an imported row): keep it short.
 */
export const MAX_NOTE_BYTES = 1024;

/** Why `note` cannot be kept (its size; never its text), or null when it can. */
export function noteProblem(note: string): string | null {
  const bytes = Buffer.byteLength(note, 'utf8');
  return bytes > MAX_NOTE_BYTES ? `at most ${MAX_NOTE_BYTES} bytes (UTF-8), got ${bytes}` : null;
}

/** One change to the list for one address. */
export type SuppressionChange =
  | {
      readonly type: 'suppress';
      readonly scope: SuppressionScope;
      readonly reason: SuppressionReason;
      readonly evidence: SuppressionEvidence;
    }
  /** Count a transient bounce; reaching the threshold within the window suppresses globally. */
  | {
      readonly type: 'countTransient';
      readonly threshold: number;
      readonly windowMs: number;
      readonly evidence: SuppressionEvidence;
    }
  /** A delivery: forget the transient bounces up to its time. */
  | {
      readonly type: 'resetTransient';
      readonly windowMs: number;
      readonly evidence: SuppressionEvidence;
    }
  /** An opt-in: lift an unsubscribe entry, unless a later notification made it. */
  | {
      readonly type: 'lift';
      readonly scope: SuppressionScope;
      readonly evidence: SuppressionEvidence;
    }
  /** An operator removes an entry. */
  | {
      readonly type: 'remove';
      readonly scope: SuppressionScope;
      readonly evidence: SuppressionEvidence;
    }
  /** Audit only: a notification that changes nothing but must be on record (not-spam). */
  | { readonly type: 'record'; readonly evidence: SuppressionEvidence };

export interface SuppressionPolicy {
  /** Transient (and undetermined) bounces within the window that suppress; 0 turns it off. */
  readonly transientThreshold: number;
  readonly transientWindowMs: number;
}

export const DEFAULT_SUPPRESSION_POLICY: SuppressionPolicy = {
  transientThreshold: 3,
  transientWindowMs: 7 * 24 * 3600 * 1000,
};

/** The changes one suppression job makes to its address's entries. */
export function suppressionChanges(
  job: SuppressionJob,
  policy: SuppressionPolicy,
): SuppressionChange[] {
  const evidence = evidenceOf(job);
  switch (job.kind) {
    case 'bounce':
      // Any permanent subtype, including Suppressed and OnAccountSuppressionList: SES itself
      // will not deliver there, and these are the bounces SES counts in the bounce rate.
      if (job.bounceType === 'Permanent')
        return [{ type: 'suppress', scope: 'global', reason: 'bounce', evidence }];
      // Undetermined counts as transient: it may be permanent, so it must not be ignored.
      if (policy.transientThreshold === 0) return [{ type: 'record', evidence }];
      return [
        {
          type: 'countTransient',
          threshold: policy.transientThreshold,
          windowMs: policy.transientWindowMs,
          evidence,
        },
      ];
    case 'complaint':
      // `not-spam` is the recipient taking a complaint back: on record, but no suppression.
      if (job.complaintFeedbackType === 'not-spam') return [{ type: 'record', evidence }];
      return [{ type: 'suppress', scope: 'global', reason: 'complaint', evidence }];
    case 'delivery':
      if (policy.transientThreshold === 0) return [];
      return [{ type: 'resetTransient', windowMs: policy.transientWindowMs, evidence }];
    case 'subscription': {
      const list = listScope(job.contactList);
      const changes: SuppressionChange[] = [
        job.unsubscribeAll
          ? { type: 'suppress', scope: list, reason: 'unsubscribe', evidence }
          : // Subscribed to the list again (SES reports every preference change).
            { type: 'lift', scope: list, evidence },
      ];
      for (const topic of job.topics) {
        const scope = topicScope(job.contactList, topic.topicName);
        changes.push(
          topic.subscriptionStatus === 'OptOut'
            ? { type: 'suppress', scope, reason: 'unsubscribe', evidence }
            : { type: 'lift', scope, evidence },
        );
      }
      return changes;
    }
  }
}

function evidenceOf(job: SuppressionJob): SuppressionEvidence {
  const common = {
    at: job.timestamp,
    kind: job.kind,
    sesMessageId: job.sesMessageId,
    source: job.source,
    ...present({ configurationSet: job.configurationSet }),
  };
  switch (job.kind) {
    case 'bounce':
      return {
        ...common,
        feedbackId: job.feedbackId,
        bounceType: job.bounceType,
        bounceSubType: job.bounceSubType,
        ...present({ status: job.status, diagnosticCode: job.diagnosticCode }),
      };
    case 'complaint':
      return {
        ...common,
        feedbackId: job.feedbackId,
        ...present({ complaintFeedbackType: job.complaintFeedbackType }),
      };
    case 'delivery':
      return common;
    case 'subscription':
      return { ...common, note: `contact list ${job.contactList}` };
  }
}

/** Drops null and empty fields: evidence records what is known, nothing else. */
function present<T extends Record<string, string | null>>(fields: T): { [K in keyof T]?: string } {
  const kept: { [K in keyof T]?: string } = {};
  for (const [key, value] of Object.entries(fields) as [keyof T, string | null][]) {
    if (value !== null && value !== '') kept[key] = value;
  }
  return kept;
}

/** An address's entry in one scope: why, since when, how often, and on what evidence. */
export interface SuppressionEntry {
  readonly address: EmailAddress;
  readonly scope: SuppressionScope;
  readonly reason: SuppressionReason;
  /** The earliest and the latest notification (or request) behind the entry, ISO 8601. */
  readonly firstAt: string;
  readonly lastAt: string;
  /** How many distinct notifications (or requests) suppressed the address in this scope. */
  readonly count: number;
  /** What established the current reason. */
  readonly evidence: SuppressionEvidence;
  /** The most recent notification behind the entry. */
  readonly latest: SuppressionEvidence;
}

/** One line of the audit trail. */
export interface SuppressionAuditRecord {
  readonly action: SuppressionOutcome;
  readonly address: EmailAddress;
  readonly scope: SuppressionScope | null;
  readonly reason: SuppressionReason | null;
  /** When the change was made (the store's clock), ISO 8601. */
  readonly recordedAt: string;
  readonly evidence: SuppressionEvidence;
}

/** What applying a change did. */
export type SuppressionOutcome =
  | 'added'
  | 'updated'
  | 'counted'
  | 'reset'
  | 'lifted'
  | 'removed'
  | 'recorded'
  | 'imported'
  /** Nothing to do: already so, or overtaken by a later notification. */
  | 'unchanged';

/**
 * What applying one change did, and to which entry: `reason` is the entry's reason after the
 * change, `previousReason` before it (null: no entry). An entry gained a reason when the two
 * differ and `reason` is not null.
 */
export interface AppliedSuppressionChange {
  readonly outcome: SuppressionOutcome;
  readonly scope: SuppressionScope | null;
  readonly reason: SuppressionReason | null;
  readonly previousReason: SuppressionReason | null;
}

/**
 * The suppression list is spread over this many buckets by address, each a Redis hash tag of
 * its own: on Redis Cluster the buckets spread over the shards, and each notification's keys
 * share its bucket's slot. Fixed: an address's bucket is part of the stored layout.
 */
export const SUPPRESSION_BUCKETS = 256;

/**
 * An address's bucket: FNV-1a (32 bits) of its UTF-16 code units, modulo the bucket count.
 * Stable by definition — changing it would hide every stored entry — and cheap, since a batch
 * check computes it for 10,000 addresses.
 */
export function suppressionBucket(address: EmailAddress): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < address.length; i++) {
    hash = Math.imul(hash ^ address.charCodeAt(i), 0x01000193);
  }
  return (hash >>> 0) % SUPPRESSION_BUCKETS;
}
