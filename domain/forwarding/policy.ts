/**
 * What happens to a received message: which targets get a copy, and whether its verdicts, its
 * sender or its receipt action stop it first. Pure; the inbound processor acts on the plan.
 */
import type { EmailAddress } from '../address';
import type { ForwardJob, InboundJob, JobSpec, RawMessageSource } from '../jobs';
import { idPart } from '../routing';
import { targetsFor, type ForwardRules } from './rules';

/** What `FORWARD_FAILED_VERDICTS` asks for mail whose spam or virus verdict is FAIL. */
export const FAILED_VERDICT_HANDLINGS = ['drop', 'tag'] as const;
export type FailedVerdictHandling = (typeof FAILED_VERDICT_HANDLINGS)[number];

export interface ForwardingSettings {
  readonly rules: ForwardRules;
  /** The verified address forwarded mail comes from (`FORWARD_FROM`). */
  readonly from: EmailAddress;
  readonly failedVerdicts: FailedVerdictHandling;
  /** Largest message forwarded, in bytes (`FORWARD_MAX_BYTES`). */
  readonly maxBytes: number;
}

/**
 * Every outcome forwarding records (`ses_inbound_forwarded_total{outcome}`): a bounded set.
 * Decided per message, before fan-out: `noRule` (no rule names a target), `noContent` (a
 * receipt action with no message to read: Bounce, Lambda, Stop, WorkMail), `loop` (sent by
 * `FORWARD_FROM`), `dmarcReject`, `virus`, `spam`. Decided per copy, by its forward job:
 * `forwarded`, `loop` (the message carries our forwarding header, or is From `FORWARD_FROM`),
 * `tooLarge`, `missing` (no S3 object), `encrypted` (an S3 object SES encrypted client-side,
 * which needs the S3 encryption client), `malformed` (no MIME structure to rewrite),
 * `rejected` (SMTP 5xx) and `failed` (retries used up).
 */
export const FORWARD_OUTCOMES = [
  'forwarded',
  'noRule',
  'noContent',
  'loop',
  'dmarcReject',
  'virus',
  'spam',
  'tooLarge',
  'missing',
  'encrypted',
  'malformed',
  'rejected',
  'failed',
] as const;
export type ForwardOutcome = (typeof FORWARD_OUTCOMES)[number];

export type VerdictDecision =
  | { readonly forward: false; readonly outcome: 'dmarcReject' | 'virus' | 'spam' }
  | { readonly forward: true; readonly subjectTags: readonly string[] };

/**
 * The verdict policy. DMARC FAIL under a `reject` policy: the domain owner asked receivers to
 * refuse such mail, so it is dropped whatever the setting. Virus or spam FAIL: dropped, or
 * with `tag` forwarded with `[VIRUS]` / `[SPAM]` before the subject. Anything else
 * (PASS, GRAY, PROCESSING_FAILED, DISABLED, no verdict, DMARC `quarantine`) is forwarded.
 */
export function verdictDecision(
  verdicts: InboundJob['verdicts'],
  handling: FailedVerdictHandling,
): VerdictDecision {
  const failed = (status: string | null) => status?.toUpperCase() === 'FAIL';
  if (failed(verdicts.dmarc) && verdicts.dmarcPolicy?.toLowerCase() === 'reject') {
    return { forward: false, outcome: 'dmarcReject' };
  }
  const failures = [
    ...(failed(verdicts.virus) ? (['virus'] as const) : []),
    ...(failed(verdicts.spam) ? (['spam'] as const) : []),
  ];
  if (failures.length === 0) return { forward: true, subjectTags: [] };
  if (handling === 'drop') return { forward: false, outcome: failures[0]! };
  return { forward: true, subjectTags: failures.map((f) => f.toUpperCase()) };
}

/** Where the raw message is, or null when the receipt action delivers none to read. */
export function rawMessageSource(job: InboundJob): RawMessageSource | null {
  const { action } = job;
  switch (action.type) {
    case 'SNS':
      return job.content === null
        ? null
        : { type: 'content', content: job.content, encoding: action.encoding ?? 'UTF8' };
    case 'S3':
      return { type: 's3', bucketName: action.bucketName, objectKey: action.objectKey };
    case 'Bounce':
    case 'Lambda':
    case 'Stop':
    case 'WorkMail':
      return null;
  }
}

export type ReceivedPlan =
  | {
      readonly kind: 'drop';
      readonly outcome: 'noRule' | 'noContent' | 'loop' | 'dmarcReject' | 'virus' | 'spam';
    }
  | { readonly kind: 'forward'; readonly jobs: readonly JobSpec[] };

/** One `forward` job per target; the id makes a redelivery or a retried fan-out a no-op. */
export function planForwarding(job: InboundJob, settings: ForwardingSettings): ReceivedPlan {
  const targets = targetsFor(settings.rules, job.recipients);
  if (targets.size === 0) return { kind: 'drop', outcome: 'noRule' };
  const source = rawMessageSource(job);
  if (source === null) return { kind: 'drop', outcome: 'noContent' };
  if (job.mailFrom !== null && job.mailFrom.toLowerCase() === settings.from) {
    return { kind: 'drop', outcome: 'loop' };
  }
  const verdicts = verdictDecision(job.verdicts, settings.failedVerdicts);
  if (!verdicts.forward) return { kind: 'drop', outcome: verdicts.outcome };
  return {
    kind: 'forward',
    jobs: [...targets].map(([target, recipients]) => {
      const data: ForwardJob = {
        sesMessageId: job.sesMessageId,
        target,
        recipients,
        mailFrom: job.mailFrom,
        source,
        subjectTags: verdicts.subjectTags,
      };
      return {
        queue: 'inbound',
        name: 'forward',
        id: forwardJobId(job.sesMessageId, target),
        data,
      };
    }),
  };
}

export const forwardJobId = (sesMessageId: string, target: EmailAddress): string =>
  `inbound/forward/${idPart(sesMessageId)}/${idPart(target)}`;
