/** Configuration: defaults, every variable's codec, and one clear line naming a bad variable. */
import { ConfigError, DEFAULT_REDIS_URL, loadConfig } from '../../../worker/config';

const queue = {
  SQS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/ses-events',
  AWS_REGION: 'eu-west-1',
};

const failure = (env: NodeJS.ProcessEnv): string => {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(queue);
    expect(config).toMatchObject({
      redis: { kind: 'single', url: DEFAULT_REDIS_URL },
      replicasAck: { replicas: 0, timeoutMs: 2000 },
      bullmqPrefix: '{ses}',
      httpPort: 8080,
      emulatorPort: 4566,
      role: 'all',
      apiToken: null,
      snsVerifySignatures: true,
      logLevel: 'info',
      shutdownTimeoutMs: 25_000,
      sqs: {
        queueUrl: queue.SQS_QUEUE_URL,
        dlqUrl: null,
        region: 'eu-west-1',
        customEndpoint: false,
        batchSize: 10,
        pollers: 16,
        waitTimeSeconds: 20,
        visibilityTimeoutSeconds: 60,
        heartbeatIntervalSeconds: 20,
        confirmSubscriptions: false,
      },
      jobs: {
        attempts: 8,
        backoffMs: 2000,
        keepCompletedSeconds: 86_400,
        keepFailedSeconds: 1_209_600,
      },
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      ...queue,
      SQS_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/ses-events-dlq',
      AWS_ENDPOINT_URL_SQS: 'http://localhost:4566',
      REDIS_URL: 'rediss://user:pw@redis.internal:6380/2',
      BULLMQ_PREFIX: '{mail}',
      HTTP_PORT: '0',
      EMULATOR_PORT: '0',
      ROLE: 'ingest',
      API_TOKEN: ' secret ',
      SNS_VERIFY_SIGNATURES: 'false',
      SNS_CONFIRM_SUBSCRIPTIONS: 'yes',
      LOG_LEVEL: 'debug',
      SQS_BATCH_SIZE: '5',
      SQS_POLLERS: '4',
      SQS_WAIT_TIME_SECONDS: '0',
      SQS_VISIBILITY_TIMEOUT: '120',
      SQS_HEARTBEAT_INTERVAL: '30',
      JOB_ATTEMPTS: '3',
      JOB_BACKOFF_MS: '500',
      JOB_CONCURRENCY: '4',
      JOB_KEEP_COMPLETED_SECONDS: '3600',
      JOB_KEEP_FAILED_SECONDS: '0',
      SHUTDOWN_TIMEOUT_MS: '5000',
    });
    expect(config).toMatchObject({
      redis: { kind: 'single', url: 'rediss://user:pw@redis.internal:6380/2' },
      bullmqPrefix: '{mail}',
      httpPort: 0,
      emulatorPort: 0,
      role: 'ingest',
      apiToken: 'secret',
      snsVerifySignatures: false,
      logLevel: 'debug',
      shutdownTimeoutMs: 5000,
      sqs: {
        dlqUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/ses-events-dlq',
        customEndpoint: true,
        batchSize: 5,
        pollers: 4,
        waitTimeSeconds: 0,
        visibilityTimeoutSeconds: 120,
        heartbeatIntervalSeconds: 30,
        confirmSubscriptions: true,
      },
      jobs: {
        attempts: 3,
        backoffMs: 500,
        concurrency: 4,
        keepCompletedSeconds: 3600,
        keepFailedSeconds: 0,
      },
    });
  });

  describe('Redis Cluster', () => {
    it('reads plain seeds, a NAT map and the replica acknowledgement', () => {
      const config = loadConfig({
        ...queue,
        REDIS_CLUSTER_NODES: ' 10.0.0.1:7000, redis-b.internal:7001 ,[::1]:7002',
        REDIS_CLUSTER_NAT_MAP: '10.0.0.1:7000=127.0.0.1:17000,10.0.0.2:7000=node-2:7000',
        REDIS_MIN_REPLICAS_ACK: '1',
        REDIS_REPLICAS_ACK_TIMEOUT_MS: '500',
      });
      expect(config.redis).toEqual({
        kind: 'cluster',
        seeds: [
          { host: '10.0.0.1', port: 7000 },
          { host: 'redis-b.internal', port: 7001 },
          { host: '::1', port: 7002 },
        ],
        tls: false,
        username: null,
        password: null,
        natMap: {
          '10.0.0.1:7000': { host: '127.0.0.1', port: 17000 },
          '10.0.0.2:7000': { host: 'node-2', port: 7000 },
        },
      });
      expect(config.replicasAck).toEqual({ replicas: 1, timeoutMs: 500 });
    });

    it('takes TLS and ACL credentials from rediss:// seeds', () => {
      const config = loadConfig({
        ...queue,
        REDIS_CLUSTER_NODES:
          'rediss://worker:p%40ss@clustercfg.mail.abc.use1.cache.amazonaws.com:6379,rediss://worker:p%40ss@node-2.example:6380',
      });
      expect(config.redis).toEqual({
        kind: 'cluster',
        seeds: [
          { host: 'clustercfg.mail.abc.use1.cache.amazonaws.com', port: 6379 },
          { host: 'node-2.example', port: 6380 },
        ],
        tls: true,
        username: 'worker',
        password: 'p@ss',
        natMap: null,
      });
    });

    it('refuses REDIS_URL and REDIS_CLUSTER_NODES together', () => {
      expect(
        failure({ ...queue, REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'b:7000' }),
      ).toBe(
        'REDIS_CLUSTER_NODES: expected REDIS_URL unset when a cluster is configured, got both',
      );
    });

    it.each([
      ['a:7000,rediss://b:7001', 'mixed schemes'],
      ['redis://u:one@a:7000,redis://u:two@b:7001', 'credentials that disagree'],
      ['redis://a:7000/2', 'a database number'],
      ['a', 'no port'],
      ['a:70000', 'a port out of range'],
    ])('refuses %s (%s), without echoing a password', (nodes) => {
      const message = failure({ ...queue, REDIS_CLUSTER_NODES: nodes });
      expect(message).toMatch(/^REDIS_CLUSTER_NODES: expected comma-separated seed nodes/);
      expect(message).not.toContain('one@');
    });

    it('refuses a NAT map without a cluster', () => {
      expect(failure({ ...queue, REDIS_CLUSTER_NAT_MAP: 'a:1=b:2' })).toMatch(
        /^REDIS_CLUSTER_NAT_MAP: expected REDIS_CLUSTER_NODES to be set too/,
      );
    });
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ ...queue, REDIS_URL: '', HTTP_PORT: '  ' })).toMatchObject({
      redis: { kind: 'single', url: DEFAULT_REDIS_URL },
      httpPort: 8080,
    });
  });

  it.each([
    [{ SQS_BATCH_SIZE: '11' }, 'SQS_BATCH_SIZE: expected an integer from 1 to 10, got "11"'],
    [{ SQS_BATCH_SIZE: '2.5' }, 'SQS_BATCH_SIZE: expected an integer from 1 to 10, got "2.5"'],
    [{ HTTP_PORT: 'eighty' }, 'HTTP_PORT: expected an integer from 0 to 65535, got "eighty"'],
    [{ EMULATOR_PORT: '65536' }, 'EMULATOR_PORT: expected an integer from 0 to 65535, got "65536"'],
    [{ ROLE: 'both' }, 'ROLE: expected'],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL: expected'],
    [
      { REDIS_URL: 'localhost:6379' },
      'REDIS_URL: expected a redis:// or rediss:// URL, got "localhost:6379"',
    ],
    [
      { SQS_QUEUE_URL: 'ses-events' },
      'SQS_QUEUE_URL: expected a http:// or https:// URL, got "ses-events"',
    ],
    [
      { AWS_ENDPOINT_URL: 'localhost:4566' },
      'AWS_ENDPOINT_URL: expected a http:// or https:// URL',
    ],
    [
      { SNS_VERIFY_SIGNATURES: 'maybe' },
      'SNS_VERIFY_SIGNATURES: expected true or false, got "maybe"',
    ],
    [{ BULLMQ_PREFIX: 'ses:prod' }, 'BULLMQ_PREFIX: expected a key prefix without ":"'],
    [{ BULLMQ_PREFIX: '{}' }, 'BULLMQ_PREFIX: expected a key prefix without ":"'],
    [
      { SQS_VISIBILITY_TIMEOUT: '30', SQS_HEARTBEAT_INTERVAL: '30' },
      'SQS_HEARTBEAT_INTERVAL: expected fewer seconds than SQS_VISIBILITY_TIMEOUT (30), got 30',
    ],
    [{ AWS_REGION: '' }, 'AWS_REGION: expected'],
  ])('%j → %s', (override, message) => {
    const text = failure({ ...queue, ...override });
    expect(text.startsWith(message)).toBe(true);
    expect(text).not.toContain('\n');
  });

  it('needs no queue when none is configured (embedded mode and ROLE=process decide later)', () => {
    expect(loadConfig({}).sqs.queueUrl).toBeNull();
  });

  it('derives the heartbeat from the visibility timeout', () => {
    expect(
      loadConfig({ ...queue, SQS_VISIBILITY_TIMEOUT: '300' }).sqs.heartbeatIntervalSeconds,
    ).toBe(100);
    expect(loadConfig({ ...queue, SQS_VISIBILITY_TIMEOUT: '2' }).sqs.heartbeatIntervalSeconds).toBe(
      1,
    );
  });
});
