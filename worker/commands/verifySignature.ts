import { makeSnsSignatureVerifier } from '../../adapters/sns-signature/verifier';
import { parseIsoDateTime } from '../../domain/codec/scalars';
import { configOrExit } from '../config';
import { EXIT, type ExitCode, type Io } from '../io';
import { readSqsBody } from './sqsBodyInput';

/** When the certificate must be valid: now, the envelope's `Timestamp`, or a given moment. */
export type VerifyAt = 'now' | 'message' | Date;

/** `--at`'s argument; undefined when it is none of the three forms. */
export function parseVerifyAt(text: string): VerifyAt | undefined {
  if (text === 'now' || text === 'message') return text;
  const instant = parseIsoDateTime(text);
  return Number.isNaN(instant) ? undefined : new Date(instant);
}

/**
 * `ses-worker verify-signature [FILE|-] [--at now|message|<ISO time>]`: the SNS signature of one
 * SQS body, checked by the worker's own verifier with SNS_CERT_DIR, SNS_CERT_FETCH and
 * SNS_TOPIC_ARNS. One line; exit 0 valid, 65 invalid (with the reason), 69 when the certificate
 * cannot be had (not pinned with fetching off, or not reachable).
 */
export async function verifySignatureCommand(
  file: string | undefined,
  at: VerifyAt,
  env: NodeJS.ProcessEnv,
  io: Io,
): Promise<ExitCode> {
  const config = configOrExit(env, io);
  if (typeof config === 'number') return config;
  const body = await readSqsBody('verify-signature', file, io);
  if (typeof body !== 'string') return body;

  const fields = envelopeFields(body);
  let moment: Date | undefined;
  if (at === 'message') {
    const instant =
      typeof fields.Timestamp === 'string' ? parseIsoDateTime(fields.Timestamp) : Number.NaN;
    if (Number.isNaN(instant)) {
      io.stderr.write(
        'ses-worker verify-signature: invalid: unsigned: --at message needs the envelope’s Timestamp, and it has none\n',
      );
      return EXIT.dataError;
    }
    moment = new Date(instant);
  } else if (at instanceof Date) {
    moment = at;
  }

  const verifier = makeSnsSignatureVerifier({
    topicArns: config.snsTopicArns,
    certDir: config.snsCertificates.dir,
    fetchCertificates: config.snsCertificates.fetch,
  });
  const check = await verifier.verify(body, moment === undefined ? {} : { at: moment });
  const when = (moment ?? new Date()).toISOString();
  switch (check.type) {
    case 'valid':
      io.stdout.write(
        `valid: ${String(fields.Type)} ${String(fields.MessageId)} on ${String(fields.TopicArn)}, signed by a certificate valid at ${when}\n`,
      );
      return EXIT.ok;
    case 'invalid':
      // A certificate missing from the pinned directory says nothing about the message.
      if (check.certificateMissing) {
        io.stderr.write(`ses-worker verify-signature: certificate unavailable: ${check.message}\n`);
        return EXIT.unavailable;
      }
      io.stderr.write(`ses-worker verify-signature: invalid: ${check.reason}: ${check.message}\n`);
      return EXIT.dataError;
    case 'unavailable':
      io.stderr.write(`ses-worker verify-signature: certificate unavailable: ${check.message}\n`);
      return EXIT.unavailable;
  }
}

/** The envelope's top-level fields, for the report line; empty when the body is no object. */
function envelopeFields(body: string): Readonly<Record<string, unknown>> {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}
