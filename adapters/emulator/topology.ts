/**
 * The SES → SNS → SQS plumbing, created through the AWS SDK: a topic, a queue subscribed to it,
 * and a DLQ the queue redrives to. Used by the embedded mode, the demo and the tests. Names and
 * settings come from domain/sesTopology.ts, as docker-compose's init and the CDK construct
 * (deploy/aws/) take theirs; the options below override them for a test.
 */
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { CreateTopicCommand, SubscribeCommand, type SNSClient } from '@aws-sdk/client-sns';
import {
  dlqAttributes,
  queueAttributes,
  SES_QUEUE_SETTINGS,
  sesTopologyNames,
  subscriptionAttributes,
  type SesQueueSettings,
} from '../../domain/sesTopology';

export interface SesTopology {
  readonly topicArn: string;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
  readonly subscriptionArn: string;
}

export interface TopologyOptions {
  /** Base name: the topic is `<name>`, the queues `<name>-queue` and `<name>-dlq`. */
  readonly name: string;
  /** SNS raw message delivery: the SES JSON is the SQS body, with no envelope. Default off. */
  readonly rawDelivery?: boolean;
  /** Receives before SQS moves a message to the DLQ by itself. */
  readonly maxReceiveCount?: number;
  readonly visibilityTimeoutSeconds?: number;
}

/** The shared settings with this topology's overrides applied. */
export function topologySettings(options: TopologyOptions): SesQueueSettings {
  return {
    ...SES_QUEUE_SETTINGS,
    ...(options.rawDelivery === undefined ? {} : { rawMessageDelivery: options.rawDelivery }),
    ...(options.maxReceiveCount === undefined ? {} : { maxReceiveCount: options.maxReceiveCount }),
    ...(options.visibilityTimeoutSeconds === undefined
      ? {}
      : { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds }),
  };
}

export async function createSesTopology(
  sqs: SQSClient,
  sns: SNSClient,
  options: TopologyOptions,
): Promise<SesTopology> {
  const settings = topologySettings(options);
  const names = sesTopologyNames(options.name);
  const dlq = await createQueue(sqs, names.dlq, dlqAttributes(settings));
  const queue = await createQueue(sqs, names.queue, queueAttributes(settings, dlq.arn));
  const topic = await sns.send(new CreateTopicCommand({ Name: names.topic }));
  const topicArn = required(topic.TopicArn, 'CreateTopic returned no TopicArn');
  const subscription = await sns.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: 'sqs',
      Endpoint: queue.arn,
      Attributes: subscriptionAttributes(settings),
      ReturnSubscriptionArn: true,
    }),
  );
  return {
    topicArn,
    queueUrl: queue.url,
    queueArn: queue.arn,
    dlqUrl: dlq.url,
    dlqArn: dlq.arn,
    subscriptionArn: required(
      subscription.SubscriptionArn,
      'Subscribe returned no SubscriptionArn',
    ),
  };
}

async function createQueue(sqs: SQSClient, name: string, attributes: Record<string, string>) {
  const created = await sqs.send(
    new CreateQueueCommand({ QueueName: name, Attributes: attributes }),
  );
  const url = required(created.QueueUrl, `CreateQueue ${name} returned no QueueUrl`);
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  return { url, arn: required(Attributes?.QueueArn, `queue ${name} has no QueueArn`) };
}

function required<T>(value: T | undefined, message: string): T {
  if (value === undefined) throw new Error(message);
  return value;
}
