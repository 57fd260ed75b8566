/**
 * npm run bench:decode — what decoding costs over parsing alone, side by side in one process.
 *
 * Bodies: SNS envelopes around the SES seed samples in a mix like a sending account's traffic
 * (mostly sends, deliveries and opens), each with its own message id and recipient. The
 * parse-only baseline does what any consumer must: `JSON.parse(body)` then
 * `JSON.parse(Message)`. Rounds alternate between the two so that machine noise hits both;
 * the ratio is the median of the per-round ratios decode/parse-only.
 */
import { decodeSqsBody } from '../domain/decode';
import { meanBytes, median, ratePerSec, record, snsWrappedSesBodies } from './support';

const BODIES = 4_000;
const ROUNDS = 9;
const ROUND_MS = 400;

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
  const bodies = snsWrappedSesBodies(BODIES);
  const meanBodyBytes = meanBytes(bodies);
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
