/**
 * Keeping SES's account-level suppression list in step with ours: which entries go to SES, with
 * which of SES's two reasons, and the ids of the `ses-sync` jobs that carry them. Pure.
 */
import type { EmailAddress } from './address';
import type { SuppressionEntry, SuppressionReason } from './suppression';

export const SES_SYNC_MODES = ['off', 'push', 'pull', 'both'] as const;

/**
 * Where `suppression push --all --bulk` writes its CSV files in SES_SYNC_IMPORT_BUCKET: the only
 * keys the worker (and its IAM policy, deploy/aws/) writes there.
 */
export const SES_IMPORT_KEY_PREFIX = 'ses-worker/suppression-import/';
export type SesSyncMode = (typeof SES_SYNC_MODES)[number];

export const pushes = (mode: SesSyncMode): boolean => mode === 'push' || mode === 'both';
export const pulls = (mode: SesSyncMode): boolean => mode === 'pull' || mode === 'both';

/** SES knows two reasons (SuppressionListReason). */
export const SES_REASONS = ['BOUNCE', 'COMPLAINT'] as const;
export type SesReason = (typeof SES_REASONS)[number];

export const isSesReason = (text: unknown): text is SesReason =>
  (SES_REASONS as readonly unknown[]).includes(text);

/**
 * The reason SES should hold for one of our reasons; null: not SES's business. An unsubscribe is
 * the subscriber's choice about some mail, not a dead or hostile mailbox: SES's contact lists
 * manage those themselves.
 */
export function sesReasonFor(reason: SuppressionReason): SesReason | null {
  switch (reason) {
    case 'complaint':
      return 'COMPLAINT';
    case 'bounce':
    case 'transient-bounces':
    case 'manual':
      return 'BOUNCE';
    case 'unsubscribe':
      return null;
  }
}

/** Our reason for an entry pulled from SES. */
export const reasonForSes = (reason: SesReason): SuppressionReason =>
  reason === 'COMPLAINT' ? 'complaint' : 'bounce';

/** What SES should hold for an entry; null when the entry is not pushed (scoped, unsubscribe). */
export function sesTarget(entry: SuppressionEntry): SesReason | null {
  return entry.scope === 'global' ? sesReasonFor(entry.reason) : null;
}

/** A `ses-sync` job: one SES request each, so the queue's rate limit is the request rate. */
export type SesSyncJob =
  /** Ask SES whether it holds the address (it may have added it itself, or someone did). */
  | { readonly step: 'check'; readonly address: EmailAddress; readonly reason: SesReason }
  /** Put the address, which SES did not hold (or held with a weaker reason). */
  | { readonly step: 'put'; readonly address: EmailAddress; readonly reason: SesReason }
  /** Delete an address the worker itself put, after its entry was removed. */
  | { readonly step: 'delete'; readonly address: EmailAddress };

/**
 * Job ids. They carry the entry's generation (its first time, or when it was pushed), so a
 * redelivered notification adds nothing, while an address removed and suppressed again — a new
 * generation — is pushed again even while the first job is still kept.
 */
export const sesSyncJobId = (job: SesSyncJob, generation: number): string =>
  job.step === 'delete'
    ? `ses-sync/delete/${generation}/${job.address}`
    : `ses-sync/${job.step}/${job.reason}/${generation}/${job.address}`;

/** What the worker knows of SES's copy of an address (kept beside the list, see sesSyncState). */
export interface SesSyncRecord {
  /** The reason SES holds, as last seen (check, pull) or put; null: SES does not hold it. */
  readonly sesReason: SesReason | null;
  /** When the worker put it to SES, ms; null: the worker never put it. */
  readonly pushedAt: number | null;
  /**
   * SES held the address before the worker put it (found by a check, or pulled): it is SES's,
   * and a lift never deletes it there.
   */
  readonly sesHadIt: boolean;
  /** The entry came from a pull: SES's LastUpdateTime for it (ms); null otherwise. */
  readonly pulledLastUpdateTime: number | null;
}

/** Whether removing our entry should delete SES's: only what the worker put there itself. */
export const deletesFromSes = (record: SesSyncRecord | null): boolean =>
  record !== null && record.pushedAt !== null && !record.sesHadIt;

/** Whether SES already holds what it should (a complaint covers a bounce): no request needed. */
export function sesHolds(record: SesSyncRecord | null, reason: SesReason): boolean {
  const held = record?.sesReason ?? null;
  return held === reason || (held === 'COMPLAINT' && reason === 'BOUNCE');
}
