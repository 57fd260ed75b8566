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
      redisUrl: DEFAULT_REDIS_URL,
      bullmqPrefix: '{ses}',
      httpPort: 8080,
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
        pollers: 4,
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
      redisUrl: 'rediss://user:pw@redis.internal:6380/2',
      bullmqPrefix: '{mail}',
      httpPort: 0,
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

  it('treats an empty value as unset', () => {
    expect(loadConfig({ ...queue, REDIS_URL: '', HTTP_PORT: '  ' })).toMatchObject({
      redisUrl: DEFAULT_REDIS_URL,
      httpPort: 8080,
    });
  });

  it.each([
    [{ SQS_BATCH_SIZE: '11' }, 'SQS_BATCH_SIZE: expected an integer from 1 to 10, got "11"'],
    [{ SQS_BATCH_SIZE: '2.5' }, 'SQS_BATCH_SIZE: expected an integer from 1 to 10, got "2.5"'],
    [{ HTTP_PORT: 'eighty' }, 'HTTP_PORT: expected an integer from 0 to 65535, got "eighty"'],
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
