/**
 * What the chaos suite finds at the end — the suppression list in Redis, the mail the SMTP server
 * accepted, the DLQ's messages — and its comparison with the ledger of what was published.
 */
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Queue } from 'bullmq';
import calculateSlot from 'cluster-key-slot';
import { openQueue, queueLocation } from '../../adapters/bullmq/layout';
import type { RedisClient } from '../../adapters/redis/connection';
import { headerValues, splitMessage } from '../support/mime';
import type { ReceivedMail, TestSmtpServer } from '../support/smtp';
import { storedEntries } from '../support/suppressionRedis';
import { forwardKey, POISON_MARKER, type ExpectedEntry, type Ledger } from './ledger';

/** `<sesMessageId> <target>` of a forwarded copy: the id our forwarder's header names. */
export function forwardedKeyOf(mail: ReceivedMail): string | null {
  const { head } = splitMessage(mail.raw);
  const [marker] = headerValues(head, 'x-ses-worker-forwarded');
  const id = marker === undefined ? undefined : /\bid=(\S+)/.exec(marker)?.[1];
  const [target] = mail.to;
  return id === undefined || target === undefined ? null : forwardKey(id, target);
}

/**
 * Holds the SMTP server's acceptances while the suite kills a process. While held, every message
 * is answered 451 (the forward job retries it later). `settle` then waits until each message
 * accepted so far has its forward job completed in Redis: a process killed after that cannot
 * have a copy the server took (250) but its job did not record — the documented at-least-once
 * window of forwarding, which no kill should fall into by chance (see docs/testing.md).
 */
export interface SmtpHold {
  hold(): void;
  release(): void;
  /** Resolves true once every accepted copy's job is completed, false at the deadline. */
  settle(deadlineMs: number): Promise<boolean>;
  /** Messages answered 451 because of a hold. */
  readonly deferred: number;
  /** When the server accepted the message (answered 250), epoch ms. */
  acceptedAt(mail: ReceivedMail): number | undefined;
}

export function makeSmtpHold(
  smtp: TestSmtpServer,
  jobCompleted: (mail: ReceivedMail) => Promise<boolean>,
): SmtpHold {
  let held = false;
  let deferred = 0;
  let confirmed = 0; // smtp.accepted[0 … confirmed) have completed jobs
  const acceptedAt = new WeakMap<ReceivedMail, number>();
  smtp.replyWith((mail) => {
    if (!held) {
      acceptedAt.set(mail, Date.now());
      return null;
    }
    deferred++;
    return { code: 451, message: '4.3.0 chaos suite: try again later' };
  });
  return {
    hold: () => {
      held = true;
    },
    release: () => {
      held = false;
    },
    async settle(deadlineMs) {
      const deadline = Date.now() + deadlineMs;
      while (confirmed < smtp.accepted.length) {
        if (await jobCompleted(smtp.accepted[confirmed]!)) confirmed++;
        else if (Date.now() > deadline) return false;
        else await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return true;
    },
    get deferred() {
      return deferred;
    },
    acceptedAt: (mail) => acceptedAt.get(mail),
  };
}

/** Receives and deletes everything on the DLQ (fauxqs forgets it on a restart). */
export async function takeDeadLetters(sqs: SQSClient, dlqUrl: string): Promise<Message[]> {
  const taken: Message[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) return taken;
    taken.push(...Messages);
    const { Failed = [] } = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: dlqUrl,
        Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
    if (Failed.length > 0) throw new Error(`DLQ delete failed: ${JSON.stringify(Failed)}`);
  }
}

/** Scope → address → entry, as the store keeps them (every bucket's `entries` hash). */
export async function readSuppression(
  redis: RedisClient,
  prefix: string,
  scopes: Iterable<string>,
): Promise<Map<string, Map<string, { reason: string; count: number }>>> {
  const stored = await storedEntries(redis, prefix);
  return new Map([...scopes].map((scope) => [scope, stored.get(scope) ?? new Map()]));
}

export interface Observed {
  readonly suppression: ReadonlyMap<string, ReadonlyMap<string, { reason: string; count: number }>>;
  readonly accepted: readonly ReceivedMail[];
  readonly deadLetters: readonly Message[];
  /** Jobs BullMQ gave up on, in every queue. */
  readonly failedJobs: number;
  /** SES's account-level list at the end (the fake SESv2): address → SES reason. */
  readonly sesList?: ReadonlyMap<string, string>;
}

export interface Verdict {
  readonly figures: {
    readonly lost: number;
    readonly duplicated: number;
    readonly suppressedExpected: number;
    readonly lostSuppressions: number;
    readonly overCounted: number;
    readonly forwardsExpected: number;
    readonly forwarded: number;
    readonly lostForwards: number;
    readonly duplicatedForwards: number;
    readonly poisonPublished: number;
    readonly deadLettered: number;
    readonly lostPoison: number;
    /** Second copies of one dead-lettered SQS message: a kill between DLQ send and delete. */
    readonly deadLetterCopies: number;
    readonly failedJobs: number;
  };
  /** One line per thing wrong, for the log; empty when all holds. */
  readonly failures: readonly string[];
}

const EXAMPLES = 3;

/** Compares outcomes with the ledger. Lost and duplicated count effects, not messages. */
export function compare(ledger: Ledger, observed: Observed): Verdict {
  const failures: string[] = [];
  const report = (what: string, items: readonly string[]) => {
    if (items.length > 0)
      failures.push(`${items.length} ${what}: ${items.slice(0, EXAMPLES).join('; ')}`);
  };

  // Suppression: every expected entry, with its reason and exactly its count; nothing else.
  let suppressedExpected = 0;
  let lostSuppressions = 0;
  let overCounted = 0;
  const missing: string[] = [];
  const wrongReason: string[] = [];
  const wrongCount: string[] = [];
  const unexpected: string[] = [];
  for (const [scope, expected] of ledger.suppressed) {
    const found = observed.suppression.get(scope) ?? new Map<string, never>();
    suppressedExpected += expected.size;
    for (const [address, want] of expected) {
      const entry = found.get(address);
      if (entry === undefined) {
        lostSuppressions += want.count;
        missing.push(`${scope} ${address}`);
        continue;
      }
      if (entry.reason !== want.reason)
        wrongReason.push(`${scope} ${address}: ${entry.reason}, expected ${want.reason}`);
      if (entry.count > want.count) overCounted += entry.count - want.count;
      if (entry.count < want.count) lostSuppressions += want.count - entry.count;
      if (entry.count !== want.count)
        wrongCount.push(`${scope} ${address}: count ${entry.count}, expected ${want.count}`);
    }
    for (const address of found.keys())
      if (!expected.has(address)) unexpected.push(`${scope} ${address}`);
  }
  report('suppression entries missing', missing);
  report('suppression entries with the wrong reason', wrongReason);
  report('suppression entries with the wrong count', wrongCount);
  report('addresses suppressed that should not be', unexpected);

  // SES suppression sync (push): every global entry in SES's list with SES's reason — written
  // here from docs/ses-sync.md's mapping — and nothing else there.
  if (observed.sesList !== undefined) {
    const global = ledger.suppressed.get('global') ?? new Map<string, ExpectedEntry>();
    const notInSes: string[] = [];
    const wrongSesReason: string[] = [];
    for (const [address, want] of global) {
      const sesReason = observed.sesList.get(address);
      const expectedReason = want.reason === 'complaint' ? 'COMPLAINT' : 'BOUNCE';
      if (sesReason === undefined) notInSes.push(address);
      else if (sesReason !== expectedReason)
        wrongSesReason.push(`${address}: ${sesReason}, expected ${expectedReason}`);
    }
    report('global suppressions missing from SES’s list', notInSes);
    report('SES entries with the wrong reason', wrongSesReason);
    report(
      'SES entries that are not global suppressions',
      [...observed.sesList.keys()].filter((address) => !global.has(address)),
    );
  }

  // Forwarding: each (message, target) accepted exactly once; nothing else.
  const copies = new Map<string, number>();
  const unrecognised: string[] = [];
  for (const mail of observed.accepted) {
    const key = forwardedKeyOf(mail);
    if (key === null) unrecognised.push(`to ${mail.to.join(',')}`);
    else copies.set(key, (copies.get(key) ?? 0) + 1);
  }
  const notForwarded = [...ledger.forwards].filter((key) => !copies.has(key));
  const forwardedTwice = [...copies].filter(([, n]) => n > 1).map(([key, n]) => `${key} ×${n}`);
  const duplicatedForwards = [...copies.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
  report('forwards never delivered', notForwarded);
  report('forwards delivered more than once', forwardedTwice);
  report(
    'deliveries nobody asked for',
    [...copies.keys()].filter((key) => !ledger.forwards.has(key)),
  );
  report('deliveries without the forwarder’s header', unrecognised);

  // DLQ: each poison publication there (by its SNS message id), unchanged, with the worker's
  // error attribute; and nothing good.
  const byMarker = new Map<string, Set<string>>();
  let deadLetterCopies = 0;
  const seenIds = new Set<string>();
  const goodInDlq: string[] = [];
  const altered: string[] = [];
  const unattributed: string[] = [];
  for (const message of observed.deadLetters) {
    const body = message.Body ?? '';
    const marker = POISON_MARKER.exec(body)?.[0];
    const poison = marker === undefined ? undefined : ledger.poison.get(marker);
    if (marker === undefined || poison === undefined) {
      goodInDlq.push(body.slice(0, 120));
      continue;
    }
    const envelope = JSON.parse(body) as { MessageId?: string; Message?: string };
    if (envelope.Message !== poison.text) altered.push(marker);
    if (message.MessageAttributes?.['ses-worker.error']?.StringValue !== 'decode')
      unattributed.push(marker);
    const snsId = envelope.MessageId ?? body;
    if (seenIds.has(snsId)) deadLetterCopies++;
    seenIds.add(snsId);
    byMarker.set(marker, (byMarker.get(marker) ?? new Set()).add(snsId));
  }
  let poisonPublished = 0;
  let lostPoison = 0;
  const poisonMissing: string[] = [];
  for (const [marker, { published }] of ledger.poison) {
    poisonPublished += published;
    const found = byMarker.get(marker)?.size ?? 0;
    if (found < published) {
      lostPoison += published - found;
      poisonMissing.push(`${marker}: ${found} of ${published}`);
    }
    if (found > published)
      failures.push(`${marker}: ${found} publications in the DLQ, ${published} published`);
  }
  report('dead letters whose body changed', altered);
  report('dead letters without ses-worker.error=decode', unattributed);
  report('poison publications missing from the DLQ', poisonMissing);
  report('good messages in the DLQ', goodInDlq);
  if (observed.failedJobs > 0)
    failures.push(`${observed.failedJobs} jobs failed for good in BullMQ`);

  const lost = lostSuppressions + notForwarded.length + lostPoison;
  const duplicated = overCounted + duplicatedForwards;
  return {
    figures: {
      lost,
      duplicated,
      suppressedExpected,
      lostSuppressions,
      overCounted,
      forwardsExpected: ledger.forwards.size,
      forwarded: copies.size,
      lostForwards: notForwarded.length,
      duplicatedForwards,
      poisonPublished,
      deadLettered: observed.deadLetters.length - deadLetterCopies - goodInDlq.length,
      lostPoison,
      deadLetterCopies,
      failedJobs: observed.failedJobs,
    },
    failures,
  };
}

/**
 * A job queue as the workers name it (adapters/bullmq/layout.ts: `suppression` under `{chaos}` is
 * `chaos:{suppression}:*`), for the suites to read; and the one slot all of its keys are in.
 */
export const workerQueue = (name: string, connection: RedisClient, prefix: string): Queue =>
  openQueue(name, connection, prefix);
export const workerQueueSlot = (name: string, prefix: string): number => {
  const at = queueLocation(prefix, name);
  return calculateSlot(`${at.prefix}:${at.name}:id`);
};
