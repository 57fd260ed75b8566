/**
 * The integration harness itself: every server it starts answers real clients, and kill() and
 * restart() behave as the chaos suites expect. Runs whichever path serverPath() chose (logged);
 * startEmulatorProcess() is a child process on both paths.
 */
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import {
  CreateTopicCommand,
  PublishCommand,
  SNSClient,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import { Redis } from 'ioredis';
import {
  emulatorAnswers,
  sdkClientConfig,
  serverPath,
  startEmulator,
  startEmulatorProcess,
  startRedis,
  type EmulatorServer,
  type RedisServer,
} from '../support/servers';

const SHARED_REDIS_PORT = 6379;

beforeAll(async () => {
  console.info(`integration servers: ${await serverPath()}`);
});

describe('startRedis()', () => {
  const clients: Redis[] = [];

  /** No retries, no offline queue: against a dead server a command fails at once. */
  async function connectTo(server: RedisServer): Promise<Redis> {
    const client = new Redis(server.port, server.host, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    clients.push(client);
    await client.connect();
    return client;
  }

  afterAll(() => clients.forEach((client) => client.disconnect()));

  describe('with appendOnly', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedis({ appendOnly: true });
    });
    afterAll(() => redis.stop());

    it('listens on a port of its own, never the shared 6379', () => {
      expect(redis.port).not.toBe(SHARED_REDIS_PORT);
      expect(redis.url).toBe(`redis://${redis.host}:${redis.port}`);
    });

    it('stores and returns a key through ioredis', async () => {
      const client = await connectTo(redis);
      await client.set('harness:greeting', 'hello');
      expect(await client.get('harness:greeting')).toBe('hello');
    });

    it('fails commands once killed, and comes back on the same port with its data', async () => {
      const client = await connectTo(redis);
      await client.set('harness:survivor', 'still here');

      await redis.kill();
      await expect(client.get('harness:survivor')).rejects.toThrow();
      await expect(connectTo(redis)).rejects.toThrow('Connection is closed');

      const port = redis.port;
      await redis.restart();
      expect(redis.port).toBe(port);
      const reconnected = await connectTo(redis);
      expect(await reconnected.get('harness:survivor')).toBe('still here');
    });
  });

  describe('without appendOnly', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(() => redis.stop());

    it('comes back empty after kill() and restart()', async () => {
      await (await connectTo(redis)).set('harness:forgotten', 'gone');
      await redis.kill();
      await redis.restart();
      expect(await (await connectTo(redis)).get('harness:forgotten')).toBeNull();
    });

    it('stays down after stop()', async () => {
      await redis.stop();
      await expect(connectTo(redis)).rejects.toThrow('Connection is closed');
    });
  });
});

describe.each([
  ['startEmulator()', startEmulator],
  ['startEmulatorProcess()', startEmulatorProcess],
])('%s', (_name, start: () => Promise<EmulatorServer>) => {
  let emulator: EmulatorServer;
  let sqs: SQSClient;
  let sns: SNSClient;

  beforeAll(async () => {
    emulator = await start();
    sqs = new SQSClient(sdkClientConfig(emulator));
    sns = new SNSClient(sdkClientConfig(emulator));
  });

  afterAll(async () => {
    sqs.destroy();
    sns.destroy();
    await emulator.stop();
  });

  it('sends, receives and deletes an SQS message, whatever host the queue URL names', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'harness-sqs' }));
    // The queue URL's host (sqs.us-east-1.localhost) does not resolve: the endpoint must win.
    expect(new URL(QueueUrl!).origin).not.toBe(new URL(emulator.endpoint).origin);

    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'ping' }));
    const [message] = await receive(sqs, QueueUrl!);
    expect(message?.Body).toBe('ping');

    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message?.ReceiptHandle }));
    expect(await messageCounts(sqs, QueueUrl!)).toEqual({ visible: '0', inFlight: '0' });
  });

  it('delivers an SNS publish to a subscribed queue as an SNS envelope', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'harness-sns' }));
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'harness-topic' }));
    await sns.send(
      new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes?.QueueArn }),
    );

    await sns.send(new PublishCommand({ TopicArn, Subject: 'hi', Message: '{"n":1}' }));
    const [message] = await receive(sqs, QueueUrl!);

    expect(JSON.parse(message?.Body ?? '')).toMatchObject({
      Type: 'Notification',
      MessageId: expect.any(String),
      TopicArn,
      Subject: 'hi',
      Message: '{"n":1}',
      Timestamp: expect.any(String),
    });
  });
});

describe('startEmulatorProcess() kill() and restart()', () => {
  let emulator: Awaited<ReturnType<typeof startEmulatorProcess>>;
  let sqs: SQSClient;

  beforeAll(async () => {
    emulator = await startEmulatorProcess();
    sqs = new SQSClient(sdkClientConfig(emulator));
  });

  afterAll(async () => {
    sqs.destroy();
    await emulator.stop();
  });

  it('goes down on kill() and comes back, empty, on the same endpoint', async () => {
    await sqs.send(new CreateQueueCommand({ QueueName: 'harness-lost' }));
    const endpoint = emulator.endpoint;

    await emulator.kill();
    expect(await emulatorAnswers(emulator)).toBe(false);

    await emulator.restart();
    expect(emulator.endpoint).toBe(endpoint);
    expect(await emulatorAnswers(emulator)).toBe(true);
    // fauxqs keeps everything in memory: the queue died with the process.
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: 'harness-lost' }))).rejects.toThrow();
  });

  it('stays down after stop()', async () => {
    await emulator.stop();
    expect(await emulatorAnswers(emulator)).toBe(false);
  });
});

/** A long poll: returns as soon as a message is there, instead of sleeping and hoping. */
async function receive(sqs: SQSClient, queueUrl: string) {
  const { Messages } = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 5, MaxNumberOfMessages: 1 }),
  );
  expect(Messages).toHaveLength(1);
  return Messages!;
}

async function messageCounts(sqs: SQSClient, queueUrl: string) {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Attributes?.ApproximateNumberOfMessages,
    inFlight: Attributes?.ApproximateNumberOfMessagesNotVisible,
  };
}
