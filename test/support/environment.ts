/**
 * One Redis and one emulator for a test file, started before its tests and stopped after, with
 * SDK clients and a Redis client for assertions. Call at the top level of the file.
 */
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { Redis } from 'ioredis';
import { startEmulator, startRedis, type EmulatorServer, type RedisServer } from './servers';
import { clientsFor } from './sqs';
import type { SesTopology } from '../../adapters/emulator/topology';
import type { RedisClient } from '../../adapters/redis/connection';
import { startRedisUnderTest, type RedisMode, type RedisUnderTest } from './redisModes';

export interface TestServers {
  redisServer: RedisServer;
  emulator: EmulatorServer;
  sqs: SQSClient;
  sns: SNSClient;
  /** For assertions: the worker under test has its own connections. */
  redis: Redis;
}

export function useServers(options: { appendOnly?: boolean } = {}): TestServers {
  const servers = {} as TestServers;
  beforeAll(async () => {
    [servers.redisServer, servers.emulator] = await Promise.all([
      startRedis(options),
      startEmulator(),
    ]);
    Object.assign(servers, clientsFor(servers.emulator));
    servers.redis = new Redis(servers.redisServer.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    servers.redis?.disconnect();
    servers.sqs?.destroy();
    servers.sns?.destroy();
    await Promise.all([servers.redisServer?.stop(), servers.emulator?.stop()]);
  });
  return servers;
}

/** As `TestServers`, with the Redis of one mode: one server, or the three-master cluster. */
export interface TestServersOn {
  emulator: EmulatorServer;
  sqs: SQSClient;
  sns: SNSClient;
  redisUnderTest: RedisUnderTest;
  /** For assertions: the worker under test has its own connections. */
  redis: RedisClient;
}

/**
 * `useServers` for a suite run in each mode: call it at the top of the block of
 * `describe.each(REDIS_MODES)`.
 */
export function useServersOn(mode: RedisMode): TestServersOn {
  const servers = {} as TestServersOn;
  beforeAll(async () => {
    [servers.redisUnderTest, servers.emulator] = await Promise.all([
      startRedisUnderTest(mode),
      startEmulator(),
    ]);
    Object.assign(servers, clientsFor(servers.emulator));
    servers.redis = servers.redisUnderTest.connect({ maxRetriesPerRequest: 1 });
  }, 90_000);
  afterAll(async () => {
    servers.redis?.disconnect();
    servers.sqs?.destroy();
    servers.sns?.destroy();
    await Promise.all([servers.redisUnderTest?.stop(), servers.emulator?.stop()]);
  });
  return servers;
}

/** The variables that point a worker (or a CLI command) at a test topology and Redis prefix. */
export function topologyEnv(
  servers: TestServers | TestServersOn,
  topology: Pick<SesTopology, 'queueUrl' | 'dlqUrl'>,
  prefix: string,
): Record<string, string> {
  return {
    SQS_QUEUE_URL: topology.queueUrl,
    SQS_DLQ_URL: topology.dlqUrl,
    AWS_REGION: servers.emulator.region,
    ...('redisUnderTest' in servers
      ? servers.redisUnderTest.env
      : { REDIS_URL: servers.redisServer.url }),
    BULLMQ_PREFIX: prefix,
  };
}
