import { topologySettings } from '../../adapters/emulator/topology';
import {
  dlqAttributes,
  queueAttributes,
  queueSettingsProblems,
  SES_EVENT_TYPES,
  SES_QUEUE_SETTINGS,
  sesTopologyNames,
  subscriptionAttributes,
} from '../../domain/sesTopology';
import { loadConfig } from '../../worker/config';

describe('the shared SES → SNS → SQS description', () => {
  it('holds the agreed numbers, and they pass its own checks', () => {
    expect(SES_QUEUE_SETTINGS).toEqual({
      visibilityTimeoutSeconds: 60,
      retentionSeconds: 4 * 86_400,
      dlqRetentionSeconds: 14 * 86_400,
      maxReceiveCount: 5,
      receiveWaitTimeSeconds: 20,
      rawMessageDelivery: false,
    });
    expect(queueSettingsProblems(SES_QUEUE_SETTINGS)).toEqual([]);
  });

  it('is what the worker defaults to when SQS_VISIBILITY_TIMEOUT and SQS_WAIT_TIME_SECONDS are unset', () => {
    const { sqs } = loadConfig({});
    expect(sqs.visibilityTimeoutSeconds).toBe(SES_QUEUE_SETTINGS.visibilityTimeoutSeconds);
    expect(sqs.waitTimeSeconds).toBe(SES_QUEUE_SETTINGS.receiveWaitTimeSeconds);
  });

  it('lists the ten configuration-set event types once each', () => {
    expect(new Set(SES_EVENT_TYPES).size).toBe(10);
  });

  it('refuses a DLQ that does not outlive the queue, and values past SQS limits', () => {
    expect(
      queueSettingsProblems({ ...SES_QUEUE_SETTINGS, dlqRetentionSeconds: 4 * 86_400 }),
    ).toEqual(['dlqRetentionSeconds: expected more than retentionSeconds (345600), got 345600']);
    expect(
      queueSettingsProblems({
        ...SES_QUEUE_SETTINGS,
        receiveWaitTimeSeconds: 21,
        maxReceiveCount: 0,
      }),
    ).toEqual([
      'maxReceiveCount: expected an integer from 1 to 1000, got 0',
      'receiveWaitTimeSeconds: expected an integer from 0 to 20, got 21',
    ]);
  });

  it('renders the attributes CreateQueue and Subscribe take', () => {
    expect(sesTopologyNames('ses-events')).toEqual({
      topic: 'ses-events',
      queue: 'ses-events-queue',
      dlq: 'ses-events-dlq',
    });
    expect(queueAttributes(SES_QUEUE_SETTINGS, 'arn:aws:sqs:eu-west-1:1:x-dlq')).toEqual({
      VisibilityTimeout: '60',
      MessageRetentionPeriod: '345600',
      ReceiveMessageWaitTimeSeconds: '20',
      RedrivePolicy:
        '{"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:1:x-dlq","maxReceiveCount":"5"}',
    });
    expect(dlqAttributes(SES_QUEUE_SETTINGS)).toEqual({ MessageRetentionPeriod: '1209600' });
    expect(subscriptionAttributes(SES_QUEUE_SETTINGS)).toEqual({ RawMessageDelivery: 'false' });
  });
});

describe('the emulator topology', () => {
  it('takes the shared settings, overridden only by what a test asks for', () => {
    expect(topologySettings({ name: 'a' })).toEqual(SES_QUEUE_SETTINGS);
    expect(
      topologySettings({
        name: 'a',
        rawDelivery: true,
        maxReceiveCount: 10,
        visibilityTimeoutSeconds: 5,
      }),
    ).toEqual({
      ...SES_QUEUE_SETTINGS,
      rawMessageDelivery: true,
      maxReceiveCount: 10,
      visibilityTimeoutSeconds: 5,
    });
  });
});
