/** Shared by the benchmarks: SQS bodies, side-by-side measurement and the recorded result. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeResult } from '../test/support/results';

export const REPO_ROOT = resolve(__dirname, '..', '..');

/** Share of each event type, roughly as a transactional sender sees them. */
const MIX: ReadonlyArray<readonly [file: string, weight: number]> = [
  ['send', 30],
  ['delivery', 29],
  ['open', 16],
  ['click', 8],
  ['bounce', 5],
  ['delivery-delay', 4],
  ['complaint', 2],
  ['subscription', 2],
  ['reject', 2],
  ['rendering-failure', 2],
];

/**
 * SQS bodies as SNS delivers them with raw delivery off: envelopes around the SES seed samples
 * (test/fixtures/event-publishing) in the mix above. Body i has its own SES message id,
 * feedback id and recipient, so every body is a distinct event that calls for jobs of its own.
 */
export function snsWrappedSesBodies(count: number): string[] {
  const body = snsWrappedSesBodyMaker();
  return Array.from({ length: count }, (_, i) => body(i));
}

/** Body i of `snsWrappedSesBodies`, made one at a time (bench:soak cannot hold 500,000). */
export function snsWrappedSesBodyMaker(): (i: number) => string {
  const samples = MIX.map(([file, weight]) => ({
    json: readFileSync(
      join(REPO_ROOT, 'test', 'fixtures', 'event-publishing', `${file}.json`),
      'utf8',
    ),
    weight,
  }));
  const totalWeight = samples.reduce((sum, s) => sum + s.weight, 0);
  return (i) => {
    // Deterministic spread over the mix: body i takes the sample whose weight band holds i.
    let slot = (i * 7919) % totalWeight;
    const sample = samples.find((s) => (slot -= s.weight) < 0) ?? samples[0]!;
    const id = `0100018c${i.toString(16).padStart(8, '0')}-bench-${i}`;
    const message = sample.json
      .replaceAll('recipient@example.com', `user${i}@example.com`)
      .replace(/"messageId":\s*"[^"]*"/g, `"messageId": "${id}"`)
      .replace(/"feedbackId":\s*"[^"]*"/g, `"feedbackId": "${id}-feedback"`);
    return JSON.stringify({
      Type: 'Notification',
      MessageId: `5f1c9a2e-${i.toString(16).padStart(4, '0')}-4b1e-9d6a-0e5b7c1f2a3d`,
      TopicArn: 'arn:aws:sns:us-east-1:123456789012:ses-events',
      Subject: 'Amazon SES Email Event Notification',
      Message: JSON.stringify(JSON.parse(message)),
      Timestamp: '2024-05-01T12:00:00.000Z',
      SignatureVersion: '1',
      Signature: 'EXAMPLEpH+2Oc3rZ9fSGdIaPWOzEGWrJfNPr2pRy8aG2b7x6Dk8Tx0QjYkD9P1uEXAMPLE==',
      SigningCertURL:
        'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem',
      UnsubscribeURL:
        'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:ses-events:2c2a5a5e',
    });
  };
}

export const meanBytes = (texts: readonly string[]): number =>
  Math.round(texts.reduce((sum, text) => sum + Buffer.byteLength(text), 0) / texts.length);

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Operations per second of `run` over `inputs`, repeated until at least `minMs` has passed. */
export function ratePerSec<T>(
  inputs: readonly T[],
  run: (input: T) => void,
  minMs: number,
): number {
  let operations = 0;
  const start = process.hrtime.bigint();
  let elapsedMs: number;
  do {
    for (const input of inputs) run(input);
    operations += inputs.length;
    elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  } while (elapsedMs < minMs);
  return (operations * 1000) / elapsedMs;
}

/** Records the figures in bench/results/NAME.json, and ends with the JSON line. */
export function record(
  name: string,
  figures: Record<string, number | string | readonly number[]>,
): void {
  writeResult(name, { bench: name, ...figures });
}
