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

/** The variables that point a worker (or a CLI command) at a test topology and Redis prefix. */
export function topologyEnv(
  servers: TestServers,
  topology: Pick<SesTopology, 'queueUrl' | 'dlqUrl'>,
  prefix: string,
): Record<string, string> {
  return {
    SQS_QUEUE_URL: topology.queueUrl,
    SQS_DLQ_URL: topology.dlqUrl,
    AWS_REGION: servers.emulator.region,
    REDIS_URL: servers.redisServer.url,
    BULLMQ_PREFIX: prefix,
  };
}
