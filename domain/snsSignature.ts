/**
 * What an SNS signature covers, and whether an envelope is fit to be checked at all
 * (ses-formats.md §1). Pure: the verifier (adapters/sns-signature) fetches the certificate
 * and does the cryptography.
 */
import { left, right, type Either } from 'fp-ts/Either';

/**
 * Why an envelope is refused. The names are stable: they travel to the DLQ as
 * `ses-worker.error-reason` (with `ses-worker.error` = `signature`) and label metrics.
 * - `unsigned`: a signature field is missing or not text;
 * - `unknownVersion`: a `SignatureVersion` other than 1 (SHA1withRSA) or 2 (SHA256withRSA);
 * - `certUrl`: the `SigningCertURL` is not https on an SNS host;
 * - `topic`: the `TopicArn` is not on the configured allowlist;
 * - `certRejected`: the certificate URL answered with a redirect, an error, too many bytes, or
 *   something that is not a currently valid certificate;
 * - `mismatch`: the signature does not verify.
 */
export type SignatureFailureReason =
  'unsigned' | 'unknownVersion' | 'certUrl' | 'topic' | 'certRejected' | 'mismatch';

export interface SignatureFailure {
  readonly reason: SignatureFailureReason;
  /** One line, for the DLQ attribute and the log. */
  readonly message: string;
}

export interface SigningInput {
  readonly stringToSign: string;
  readonly algorithm: 'RSA-SHA1' | 'RSA-SHA256';
  /** Base64, as SNS sends it. */
  readonly signature: string;
  readonly certUrl: string;
}

/** AWS's SNS endpoints: `sns.<region>.amazonaws.com`, and `.com.cn` in China. No port. */
export const SNS_CERT_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$/;

const ALGORITHMS: Readonly<Record<string, SigningInput['algorithm']>> = {
  '1': 'RSA-SHA1',
  '2': 'RSA-SHA256',
};

/** The fields each type signs, in SNS's order; `Subject` only when present. */
const SIGNED_FIELDS: Readonly<Record<string, readonly string[]>> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: [
    'Message',
    'MessageId',
    'SubscribeURL',
    'Timestamp',
    'Token',
    'TopicArn',
    'Type',
  ],
};
const OPTIONAL_FIELDS = new Set(['Subject']);

export interface SigningPolicy {
  /** Matched against the certificate URL's host (with its port, if it names one). */
  readonly certHost: RegExp;
  /** Null: any topic. */
  readonly topicArns: ReadonlySet<string> | null;
}

/**
 * The string SNS signed and how to check it, from the envelope as parsed from the SQS body
 * (the raw fields: `Timestamp` as sent, not as a date).
 */
export function signingInput(
  envelope: Readonly<Record<string, unknown>>,
  policy: SigningPolicy,
): Either<SignatureFailure, SigningInput> {
  const type = envelope.Type;
  const fields =
    typeof type === 'string'
      ? SIGNED_FIELDS[type === 'UnsubscribeConfirmation' ? 'SubscriptionConfirmation' : type]
      : undefined;
  if (fields === undefined)
    return left({ reason: 'unsigned', message: `no signature scheme for Type ${String(type)}` });

  const version = envelope.SignatureVersion;
  const signature = envelope.Signature;
  const certUrl = envelope.SigningCertURL;
  for (const [name, value] of [
    ['SignatureVersion', version],
    ['Signature', signature],
    ['SigningCertURL', certUrl],
  ] as const) {
    if (typeof value !== 'string' || value === '')
      return left({ reason: 'unsigned', message: `${name} is missing` });
  }
  const algorithm = ALGORITHMS[version as string];
  if (algorithm === undefined)
    return left({
      reason: 'unknownVersion',
      message: `SignatureVersion ${JSON.stringify(version)} is neither 1 nor 2`,
    });
  const urlProblem = certUrlProblem(certUrl as string, policy.certHost);
  if (urlProblem !== null) return left({ reason: 'certUrl', message: urlProblem });

  const topicArn = envelope.TopicArn;
  if (
    policy.topicArns !== null &&
    !(typeof topicArn === 'string' && policy.topicArns.has(topicArn))
  )
    return left({
      reason: 'topic',
      message: `TopicArn ${JSON.stringify(topicArn)} is not in SNS_TOPIC_ARNS`,
    });

  let stringToSign = '';
  for (const name of fields) {
    const value = envelope[name];
    if ((value === undefined || value === null) && OPTIONAL_FIELDS.has(name)) continue;
    if (typeof value !== 'string')
      return left({ reason: 'unsigned', message: `signed field ${name} is missing` });
    stringToSign += `${name}\n${value}\n`;
  }
  return right({
    stringToSign,
    algorithm,
    signature: signature as string,
    certUrl: certUrl as string,
  });
}

function certUrlProblem(text: string, certHost: RegExp): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `SigningCertURL is not a URL: ${JSON.stringify(text.slice(0, 200))}`;
  }
  if (url.protocol !== 'https:') return `SigningCertURL is not https: ${url.protocol}`;
  if (url.username !== '' || url.password !== '') return 'SigningCertURL carries credentials';
  if (!certHost.test(url.host))
    return `SigningCertURL host ${JSON.stringify(url.host)} is not an SNS host`;
  return null;
}
