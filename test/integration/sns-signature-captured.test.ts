/**
 * The real verifier on envelopes AWS really signed (test/fixtures/captured/), with the AWS
 * certificates from a pinned directory. The certificates have expired, so the clock is injected
 * and set inside their validity — the validity check still runs (see the expired case). Any
 * byte changed in a signed field, or a certificate swapped for another genuine one, fails.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  makeSnsSignatureVerifier,
  type SignatureCheck,
  type SnsSignatureOptions,
} from '../../adapters/sns-signature/verifier';
import { FIXTURES_DIR, fixtureJson, fixtureText } from '../support/fixtures';

const CERT_DIR = join(FIXTURES_DIR, 'captured', 'certs');
const CERT_2022 = 'SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem';
const CERT_2026 = 'SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem';

/** Every captured envelope whose signature is genuine, with the certificate that signed it. */
const GENUINE: Readonly<Record<string, string>> = {
  'captured/ses/mass-email-click-linktags-null.json': CERT_2022,
  'captured/sns/php-notification-v1.json': CERT_2022,
  'captured/sns/php-notification-v2.json': CERT_2022,
  'captured/sns/php-notification-v1-subject.json': CERT_2022,
  'captured/sns/php-notification-v2-subject.json': CERT_2022,
  'captured/sns/java-notification-no-subject.json': CERT_2026,
  'captured/sns/java-notification-with-subject.json': CERT_2026,
  'captured/sns/java-notification-signature-v2.json': CERT_2026,
  'captured/sns/java-subscription-confirmation.json': CERT_2026,
};

const GENUINE_SES = 'captured/ses/mass-email-click-linktags-null.json';

/** Pinned, never fetched: a fetch here would fail for want of a network, never succeed. */
const pinned = (options: SnsSignatureOptions = {}) =>
  makeSnsSignatureVerifier({ certDir: CERT_DIR, fetchCertificates: false, ...options });

const timestampOf = (name: string): number =>
  Date.parse(fixtureJson<{ Timestamp: string }>(name).Timestamp);

const SIGNED = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn'],
  SubscriptionConfirmation: [
    'Message',
    'MessageId',
    'SubscribeURL',
    'Timestamp',
    'Token',
    'TopicArn',
  ],
} as const;

/** The text with one character changed (a digit stays a digit, a letter a letter). */
function oneByteChanged(text: string): string {
  const i = Math.floor(text.length / 2);
  const c = text[i]!;
  const replacement = /\d/.test(c) ? String((Number(c) + 1) % 10) : c === 'a' ? 'b' : 'a';
  return `${text.slice(0, i)}${replacement}${text.slice(i + 1)}`;
}

describe.each(Object.entries(GENUINE))('%s', (name, certificate) => {
  const body = fixtureText(name);
  const envelope = fixtureJson<Record<string, string>>(name);
  const at = timestampOf(name);

  it('verifies with its certificate from the pinned directory, the clock at its Timestamp', async () => {
    expect(envelope.SigningCertURL).toMatch(new RegExp(`/${certificate}$`));
    await expect(pinned({ now: () => at }).verify(body)).resolves.toEqual({ type: 'valid' });
  });

  it('verifies with the moment given per message (--at message)', async () => {
    await expect(pinned().verify(body, { at: new Date(at) })).resolves.toEqual({ type: 'valid' });
  });

  it('is refused with today’s clock: the certificate has expired', async () => {
    const check = await pinned().verify(body);
    expect(check).toMatchObject({ type: 'invalid', reason: 'certRejected' });
    expect((check as { message: string }).message).toMatch(
      /^the signing certificate is not valid now/,
    );
  });

  const fields = SIGNED[envelope.Type as keyof typeof SIGNED].filter((f) => f in envelope);
  it.each(fields)('fails when one byte of %s changes', async (field) => {
    const forged = JSON.stringify({ ...envelope, [field]: oneByteChanged(envelope[field]!) });
    await expect(pinned({ now: () => at }).verify(forged)).resolves.toMatchObject({
      type: 'invalid',
      reason: 'mismatch',
    });
  });

  it('fails when its certificate is swapped for another genuine one', async () => {
    const other = certificate === CERT_2022 ? CERT_2026 : CERT_2022;
    const dir = mkdtempSync(join(tmpdir(), 'ses-worker-certs-'));
    try {
      copyFileSync(join(CERT_DIR, other), join(dir, certificate));
      // The clock inside the swapped certificate's validity, so the signature itself is checked.
      const otherValidAt = timestampOf(
        other === CERT_2022
          ? 'captured/sns/php-notification-v1.json'
          : 'captured/sns/java-notification-no-subject.json',
      );
      const check = await makeSnsSignatureVerifier({
        certDir: dir,
        fetchCertificates: false,
        now: () => otherValidAt,
      }).verify(body);
      expect(check).toMatchObject({ type: 'invalid', reason: 'mismatch' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a certificate that is not pinned', () => {
  const name = 'captured/ses/laravel-ses-setup-notice.json';

  it('with SNS_CERT_FETCH=false is refused, naming the file to add', async () => {
    const check: SignatureCheck = await pinned().verify(fixtureText(name));
    expect(check).toEqual({
      type: 'invalid',
      reason: 'certRejected',
      certificateMissing: true,
      message: `SimpleNotificationService-010a507c1833636cd94bdb98bd93083a.pem is not in SNS_CERT_DIR (${CERT_DIR}) and SNS_CERT_FETCH is false: add it and replay the DLQ`,
    });
  });

  it('without a directory and with fetching off is refused too', async () => {
    const check = await makeSnsSignatureVerifier({ fetchCertificates: false }).verify(
      fixtureText(name),
    );
    expect(check).toMatchObject({ type: 'invalid', reason: 'certRejected' });
  });

  it('still has to pass the SNS host rule before the directory is read', async () => {
    const envelope = fixtureJson(GENUINE_SES);
    const forged = JSON.stringify({
      ...envelope,
      SigningCertURL: `https://evil.example.com/${CERT_2022}`,
    });
    await expect(
      pinned({ now: () => timestampOf(GENUINE_SES) }).verify(forged),
    ).resolves.toMatchObject({ type: 'invalid', reason: 'certUrl' });
  });
});

it('a pinned file that is not a certificate is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ses-worker-certs-'));
  try {
    writeFileSync(join(dir, CERT_2022), '<html>not a certificate</html>');
    const check = await makeSnsSignatureVerifier({ certDir: dir, fetchCertificates: false }).verify(
      fixtureText(GENUINE_SES),
    );
    expect(check).toEqual({
      type: 'invalid',
      reason: 'certRejected',
      message: `${CERT_2022} in SNS_CERT_DIR is not a certificate`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
