/**
 * Ports: what the worker needs from outside systems, declared here so adapters implement them
 * and the ingest and processors depend on nothing but these shapes.
 */
import type { EmailAddress } from './address';
import type { JobSpec, QueueName } from './jobs';
import type {
  AppliedSuppressionChange,
  SuppressionAuditRecord,
  SuppressionChange,
  SuppressionEntry,
  SuppressionOutcome,
  SuppressionReason,
  SuppressionScope,
} from './suppression';

/** Where jobs go (BullMQ). Each queue's jobs are accepted or refused together. */
export interface JobSink {
  enqueue(jobs: readonly JobSpec[]): Promise<EnqueueOutcome>;
  /** True while connected to the store; polling holds while it is not. */
  isConnected(): boolean;
}

export interface EnqueueOutcome {
  /** Queues that refused their jobs, with why; every other queue in the call accepted all of its. */
  readonly failed: ReadonlyMap<QueueName, Error>;
}

/** An address's entries in every scope, and its recent history (newest first). */
export interface SuppressionRecord {
  readonly address: EmailAddress;
  readonly entries: readonly SuppressionEntry[];
  readonly history: readonly SuppressionAuditRecord[];
}

export interface SuppressionPage {
  readonly entries: readonly SuppressionEntry[];
  /** Pass back to get the next page; null on the last page. */
  readonly nextCursor: string | null;
}

export interface SuppressionCounts {
  readonly total: number;
  readonly byReason: Readonly<Record<SuppressionReason, number>>;
}

/** One notification's (or request's) changes to one address. */
export interface SuppressionNotification {
  readonly address: EmailAddress;
  readonly changes: readonly SuppressionChange[];
  /** Applying the same key again changes nothing; null for requests that need no dedupe. */
  readonly eventKey: string | null;
}

/** The suppression list: entries per (scope, address), their evidence, and an audit trail. */
export interface SuppressionStore {
  /**
   * Applies many notifications in order, each atomically and at most once per `eventKey`, in
   * as few round trips as the key layout allows. One result per notification, one per change.
   */
  applyAll(
    notifications: readonly SuppressionNotification[],
  ): Promise<AppliedSuppressionChange[][]>;
  /**
   * Applies one notification's (or request's) changes to one address, atomically. With an
   * `eventKey`, applying the same key again changes nothing and answers `unchanged`.
   */
  apply(
    address: EmailAddress,
    changes: readonly SuppressionChange[],
    eventKey: string | null,
  ): Promise<SuppressionOutcome[]>;
  /** Adds an entry made elsewhere (an export) unless one exists in its scope. */
  restore(entry: SuppressionEntry): Promise<SuppressionOutcome>;
  /** `restore` for many entries, in as few round trips as the key layout allows. */
  restoreAll(entries: readonly SuppressionEntry[]): Promise<SuppressionOutcome[]>;
  get(address: EmailAddress): Promise<SuppressionRecord>;
  /**
   * Which of the addresses are suppressed in any of the scopes: the strongest entry of each.
   * One round trip (a pipeline per Redis node), however many addresses.
   */
  check(
    addresses: readonly EmailAddress[],
    scopes: readonly SuppressionScope[],
  ): Promise<Map<EmailAddress, SuppressionEntry>>;
  list(query: {
    readonly scope?: SuppressionScope;
    readonly reason?: SuppressionReason;
    readonly cursor?: string;
    readonly limit: number;
  }): Promise<SuppressionPage>;
  counts(): Promise<SuppressionCounts>;
}
