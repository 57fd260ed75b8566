/**
 * npm run bench:decode — what decoding costs over parsing alone, side by side in one process.
 *
 * Bodies: SNS envelopes around the SES seed samples in a mix like a sending account's traffic
 * (mostly sends, deliveries and opens), each with its own message id and recipient. The
 * parse-only baseline does what any consumer must: `JSON.parse(body)` then
 * `JSON.parse(Message)`. Rounds alternate between the two so that machine noise hits both;
 * the ratio is the median of the per-round ratios decode/parse-only.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSqsBody } from '../domain/decode';
import { median, ratePerSec, record, REPO_ROOT } from './support';

const BODIES = 4_000;
const ROUNDS = 9;
const ROUND_MS = 400;

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

function makeBodies(count: number): string[] {
  const samples = MIX.map(([file, weight]) => ({
    json: readFileSync(
      join(REPO_ROOT, 'test', 'fixtures', 'event-publishing', `${file}.json`),
      'utf8',
    ),
    weight,
  }));
  const totalWeight = samples.reduce((sum, s) => sum + s.weight, 0);
  const bodies: string[] = [];
  for (let i = 0; i < count; i++) {
    // Deterministic spread over the mix: body i takes the sample whose weight band holds i.
    let slot = (i * 7919) % totalWeight;
    const sample = samples.find((s) => (slot -= s.weight) < 0) ?? samples[0]!;
    const id = `0100018c${i.toString(16).padStart(8, '0')}-bench-${i}`;
    const message = sample.json
      .replaceAll('recipient@example.com', `user${i}@example.com`)
      .replace(/"messageId":\s*"[^"]*"/g, `"messageId": "${id}"`);
    bodies.push(
      JSON.stringify({
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
      }),
    );
  }
  return bodies;
}

let sink = 0;
const parseOnly = (body: string): void => {
  const envelope = JSON.parse(body) as { Message?: unknown };
  const ses: unknown = typeof envelope.Message === 'string' ? JSON.parse(envelope.Message) : null;
  if (ses !== null) sink++;
};
const decode = (body: string): void => {
  const result = decodeSqsBody(body);
  if (result._tag === 'Left') throw new Error(`bench body did not decode: ${result.left.message}`);
  sink++;
};

function main(): void {
  const bodies = makeBodies(BODIES);
  const meanBodyBytes = Math.round(
    bodies.reduce((sum, b) => sum + Buffer.byteLength(b), 0) / bodies.length,
  );
  console.log(`${bodies.length} SQS bodies, ${meanBodyBytes} bytes on average`);
  ratePerSec(bodies, parseOnly, ROUND_MS); // warm-up: let both paths be optimised
  ratePerSec(bodies, decode, ROUND_MS);

  const parseRates: number[] = [];
  const decodeRates: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const p = ratePerSec(bodies, parseOnly, ROUND_MS);
    const d = ratePerSec(bodies, decode, ROUND_MS);
    parseRates.push(p);
    decodeRates.push(d);
    ratios.push(d / p);
    console.log(
      `round ${round + 1}: parse-only ${Math.round(p)}/s, decode ${Math.round(d)}/s, ratio ${(d / p).toFixed(3)}`,
    );
  }
  if (sink === 0) throw new Error('nothing ran');
  record('decode', {
    bodies: bodies.length,
    meanBodyBytes,
    parseOnlyPerSec: Math.round(median(parseRates)),
    decodePerSec: Math.round(median(decodeRates)),
    ratio: Number(median(ratios).toFixed(3)),
  });
}

main();
