/**
 * The SQS client lets as many calls through at once as it is sized for. The AWS SDK's default
 * is 50 sockets per endpoint: with more pollers, the rest queued in the client, and a batch's
 * delete could wait behind long polls for up to 20 s. A local endpoint holds every
 * ReceiveMessage (as a long poll on an empty queue would) until the client has as many open as
 * it can, then answers them all, empty.
 */
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { makeSqsClient, SDK_DEFAULT_MAX_SOCKETS } from '../../adapters/sqs/client';

const CALLS = 64;

/** The most receives the endpoint saw open at once when the client sent CALLS together. */
async function receivesOpenAtOnce(maxSockets?: number): Promise<number> {
  const held: ServerResponse[] = [];
  let releasing = false;
  let most = 0;
  const answer = (response: ServerResponse) =>
    response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{}');
  const server = createServer((request, response) => {
    request.resume();
    if (releasing) {
      answer(response);
      return;
    }
    held.push(response);
    most = Math.max(most, held.length);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const sqs = makeSqsClient({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    customEndpoint: true,
    ...(maxSockets === undefined ? {} : { maxSockets }),
  });
  try {
    const receives = Promise.all(
      Array.from({ length: CALLS }, () =>
        sqs.send(
          new ReceiveMessageCommand({ QueueUrl: 'http://127.0.0.1/1/q', WaitTimeSeconds: 20 }),
        ),
      ),
    );
    const open = Math.min(CALLS, maxSockets ?? SDK_DEFAULT_MAX_SOCKETS);
    // Bounded, so that a client that lets fewer through fails on the count, not on a timeout.
    const deadline = Date.now() + 10_000;
    while (held.length < open && Date.now() < deadline) await delay(5);
    // Time for any call beyond the client's limit to arrive, had it been let through.
    await delay(200);
    releasing = true;
    for (const response of held.splice(0)) answer(response);
    await receives;
    return most;
  } finally {
    releasing = true;
    for (const response of held.splice(0)) answer(response);
    sqs.destroy();
    server.close();
  }
}

it('lets as many calls reach SQS at once as it has sockets for', async () => {
  expect(await receivesOpenAtOnce(CALLS + 8)).toBe(CALLS);
  // The SDK's default: the rest wait in the client.
  expect(await receivesOpenAtOnce()).toBe(SDK_DEFAULT_MAX_SOCKETS);
});
