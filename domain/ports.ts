/**
 * Ports: what the worker needs from outside systems, declared here so adapters implement them
 * and the ingest and processors depend on nothing but these shapes.
 */
import type { EmailAddress } from './address';
import type { JobSpec, QueueName } from './jobs';

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

export type SuppressionReason = 'bounce' | 'complaint';

/** What a suppression entry records about why an address is on the list. */
export interface SuppressionEvidence {
  readonly reason: SuppressionReason;
  readonly at: string;
  readonly sesMessageId: string;
  readonly feedbackId: string;
  readonly detail: string | null;
  readonly source: string;
}

export interface SuppressionEntry extends SuppressionEvidence {
  readonly address: EmailAddress;
  readonly firstAt: string;
  readonly lastAt: string;
  readonly count: number;
}

/** The suppression list (minimal until the suppression issue adds scopes, counts and audit). */
export interface SuppressionStore {
  /** Records the address; applying the same evidence twice changes nothing. */
  suppress(address: EmailAddress, evidence: SuppressionEvidence): Promise<void>;
  get(address: EmailAddress): Promise<SuppressionEntry | null>;
}
