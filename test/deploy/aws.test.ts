/**
 * The AWS CDK construct (deploy/aws/), synthesised offline: every resource and setting, the IAM
 * policies' exact actions and resources, cdk-nag's AwsSolutions checks, and the policy JSON in
 * docs/deploy-aws.md. One synthesis per configuration (beforeAll), asserted many ways.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CfnElement, Validations, type App } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { topologySettings } from '../../adapters/emulator/topology';
import { SES_IMPORT_KEY_PREFIX } from '../../domain/sesSync';
import {
  SES_EVENT_TYPES,
  SES_IDENTITY_NOTIFICATION_TYPES,
  SES_QUEUE_SETTINGS,
} from '../../domain/sesTopology';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import {
  buildApp,
  SesWorkerStack,
  SETTINGS,
  wiringProps,
  type SettingName,
} from '../../deploy/aws/app';
import { WORKER_ENV_OUTPUTS } from '../../deploy/aws/sesWorkerWiring';

// CloudFormation JSON is untyped: each test states the shape it expects.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

interface Synthesised {
  readonly app: App;
  readonly stack: SesWorkerStack;
  readonly template: Template;
  readonly json: Json;
}

/** A cloud assembly directory per synthesis, removed after the suite. */
const outputDirectories: string[] = [];
function outputDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'ses-worker-cdk-'));
  outputDirectories.push(directory);
  return directory;
}
afterAll(() => {
  for (const directory of outputDirectories) rmSync(directory, { recursive: true, force: true });
});

/** The app as `npm run synth` builds it, from these settings (environment variables). */
function synthesise(settings: Partial<Record<SettingName, string>> = {}): Synthesised {
  const environment = Object.fromEntries(
    Object.entries(settings).map(([name, value]) => [SETTINGS[name as SettingName].env, value]),
  );
  const { app, stack } = buildApp({
    outdir: outputDirectory(),
    environment,
  });
  const template = Template.fromStack(stack);
  return { app, stack, template, json: template.toJSON() };
}

const IDENTITIES = ['example.com', 'ops@example.org'];
const OIDC_ISSUER = 'oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
const FULL: Partial<Record<SettingName, string>> = {
  inboundRecipients: 'mail.example.com, forward@example.net',
  inboundExpireDays: '10',
  notificationIdentities: IDENTITIES.join(','),
  sesSuppressionSync: 'both',
  sesSyncBulkImport: 'true',
  eksClusterName: 'prod',
  oidcProviderArn: `arn:aws:iam::123456789012:oidc-provider/${OIDC_ISSUER}`,
  namespace: 'mail',
  serviceAccount: 'ses-worker',
};

let minimal: Synthesised;
let full: Synthesised;
let pushOnly: Synthesised;

beforeAll(() => {
  minimal = synthesise();
  full = synthesise(FULL);
  pushOnly = synthesise({ sesSuppressionSync: 'push' });
});

/** The one resource of a type (fails when there are none or several). */
function only(synth: Synthesised, type: string): { id: string; resource: Json } {
  const found = Object.entries(synth.template.findResources(type));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  const [id, resource] = found[0]!;
  return { id, resource };
}

/** The logical id of a resource by its construct path under the stack's SesWorker construct. */
function logicalId(synth: Synthesised, path: string): string {
  const element = path
    .split('/')
    .reduce<IConstruct>((scope, id) => scope.node.findChild(id), synth.stack.wiring);
  if (!(element instanceof CfnElement)) throw new Error(`SesWorker/${path} is not a resource`);
  return synth.stack.resolve(element.logicalId) as string;
}

const getAttArn = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

/** A managed policy's statements, by its construct id. */
function statementsOf(synth: Synthesised, policy: string): Json[] {
  const resource = synth.json.Resources[logicalId(synth, `${policy}/Resource`)];
  return resource.Properties.PolicyDocument.Statement as Json[];
}

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Sid → sorted actions and resources: exact equality, not "contains". */
function grants(statements: Json[]): Record<string, { actions: string[]; resources: unknown[] }> {
  return Object.fromEntries(
    statements.map((statement): [string, { actions: string[]; resources: unknown[] }] => {
      expect(statement.Effect).toBe('Allow');
      return [
        statement.Sid as string,
        {
          actions: [...asList(statement.Action as string | string[])].sort(),
          resources: asList(statement.Resource),
        },
      ];
    }),
  );
}

describe('the SNS topic, the queues and the subscription', () => {
  it('names them from the shared description and keeps the topic unencrypted, TLS-only', () => {
    const topic = only(minimal, 'AWS::SNS::Topic');
    expect(topic.resource.Properties.TopicName).toBe('ses-events');
    // SES cannot publish to a topic under aws/sns; see the construct and docs/deploy-aws.md.
    expect(topic.resource.Properties.KmsMasterKeyId).toBeUndefined();
    minimal.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('gives the queue the shared settings, SQS-managed SSE and a redrive to the DLQ after 5 receives', () => {
    const dlqId = logicalId(minimal, 'DeadLetterQueue/Resource');
    minimal.template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'ses-events-queue',
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 60,
      MessageRetentionPeriod: 4 * 86_400,
      ReceiveMessageWaitTimeSeconds: 20,
      RedrivePolicy: { deadLetterTargetArn: getAttArn(dlqId), maxReceiveCount: 5 },
    });
  });

  it('keeps dead letters 14 days, longer than the queue keeps messages', () => {
    const queue = minimal.json.Resources[logicalId(minimal, 'Queue/Resource')].Properties;
    const dlq = minimal.json.Resources[logicalId(minimal, 'DeadLetterQueue/Resource')].Properties;
    expect(dlq).toEqual({
      QueueName: 'ses-events-dlq',
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 86_400,
    });
    expect(dlq.MessageRetentionPeriod).toBeGreaterThan(queue.MessageRetentionPeriod as number);
  });

  it('refuses both queues to requests without TLS', () => {
    for (const queue of ['Queue', 'DeadLetterQueue']) {
      minimal.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: logicalId(minimal, `${queue}/Resource`) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it('lets exactly this topic, and nothing else, send to the queue', () => {
    const queueId = logicalId(minimal, 'Queue/Resource');
    const policy = Object.values(minimal.template.findResources('AWS::SQS::QueuePolicy')).find(
      (resource) => resource.Properties.Queues[0].Ref === queueId,
    );
    const allows = (policy?.Properties.PolicyDocument.Statement as Json[]).filter(
      (statement) => statement.Effect === 'Allow',
    );
    expect(allows).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'sns.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: getAttArn(queueId),
        Condition: {
          ArnEquals: { 'aws:SourceArn': { Ref: logicalId(minimal, 'Topic/Resource') } },
        },
      },
    ]);
  });

  it('subscribes the queue enveloped: RawMessageDelivery false, stated', () => {
    expect(only(minimal, 'AWS::SNS::Subscription').resource.Properties).toEqual({
      Protocol: 'sqs',
      TopicArn: { Ref: logicalId(minimal, 'Topic/Resource') },
      Endpoint: getAttArn(logicalId(minimal, 'Queue/Resource')),
      RawMessageDelivery: false,
    });
  });
});

describe('the shared description (domain/sesTopology.ts)', () => {
  it('gives the construct and the emulator topology the same numbers', () => {
    const queue = minimal.json.Resources[logicalId(minimal, 'Queue/Resource')].Properties;
    const dlq = minimal.json.Resources[logicalId(minimal, 'DeadLetterQueue/Resource')].Properties;
    const subscription = only(minimal, 'AWS::SNS::Subscription').resource.Properties;
    const fromTemplate = {
      visibilityTimeoutSeconds: queue.VisibilityTimeout,
      retentionSeconds: queue.MessageRetentionPeriod,
      dlqRetentionSeconds: dlq.MessageRetentionPeriod,
      maxReceiveCount: queue.RedrivePolicy.maxReceiveCount,
      receiveWaitTimeSeconds: queue.ReceiveMessageWaitTimeSeconds,
      rawMessageDelivery: subscription.RawMessageDelivery,
    };
    expect(fromTemplate).toEqual(SES_QUEUE_SETTINGS);
    expect(topologySettings({ name: 'ses-events' })).toEqual(fromTemplate);
    expect(minimal.stack.wiring.settings).toEqual(SES_QUEUE_SETTINGS);
  });

  it('refuses overrides that break it, before anything is synthesised', () => {
    const { app } = buildApp({ outdir: outputDirectory() });
    expect(
      () =>
        new SesWorkerStack(app, 'Broken', {
          queueSettings: { dlqRetentionSeconds: 4 * 86_400 },
        }),
    ).toThrow(
      'SesWorkerWiring SesWorker: dlqRetentionSeconds: expected more than retentionSeconds (345600), got 345600',
    );
  });
});

describe('the SES configuration set', () => {
  it('publishes all ten event types to the topic', () => {
    const destination = only(minimal, 'AWS::SES::ConfigurationSetEventDestination').resource
      .Properties.EventDestination;
    expect([...destination.MatchingEventTypes].sort()).toEqual([...SES_EVENT_TYPES].sort());
    expect(destination.MatchingEventTypes).toHaveLength(10);
    expect(destination.SnsDestination).toEqual({
      TopicARN: { Ref: logicalId(minimal, 'Topic/Resource') },
    });
    expect(only(minimal, 'AWS::SES::ConfigurationSet').resource.Properties.Name).toBe('ses-events');
  });

  it('lets SES publish for this configuration set only, as this account', () => {
    minimal.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'ses.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: {
              StringEquals: {
                'AWS:SourceAccount': { Ref: 'AWS::AccountId' },
                'AWS:SourceArn': Match.objectLike({
                  'Fn::Join': ['', Match.arrayWith([':configuration-set/'])],
                }),
              },
            },
          }),
        ]),
      },
    });
  });
});

describe('identity feedback notifications (optional)', () => {
  const calls = (synth: Synthesised) =>
    Object.values(synth.template.findResources('Custom::AWS')).map(
      (resource): Json => resource.Properties as Json,
    );
  /** The SDK call of a custom resource phase, with the topic reference put back in. */
  const call = (phase: unknown): Json => {
    if (typeof phase === 'string') return JSON.parse(phase) as Json;
    const parts = (phase as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
    return JSON.parse(
      parts
        .map((part) =>
          typeof part === 'string' ? part : JSON.stringify(part).replaceAll('"', "'"),
        )
        .join(''),
    ) as Json;
  };

  it('are absent unless identities are given', () => {
    expect(calls(minimal)).toEqual([]);
    expect(Object.keys(minimal.template.findResources('AWS::Lambda::Function'))).toEqual([]);
  });

  it('set Bounce, Complaint and Delivery to the topic for each identity, and unset them on delete', () => {
    const topicRef = `{'Ref':'${logicalId(full, 'Topic/Resource')}'}`;
    const made = calls(full).map((properties) => ({
      create: call(properties.Create),
      update: call(properties.Update),
      delete: call(properties.Delete),
    }));
    expect(made).toHaveLength(IDENTITIES.length * SES_IDENTITY_NOTIFICATION_TYPES.length);
    for (const identity of IDENTITIES)
      for (const type of SES_IDENTITY_NOTIFICATION_TYPES) {
        const set = {
          service: 'SES',
          action: 'SetIdentityNotificationTopic',
          parameters: { Identity: identity, NotificationType: type, SnsTopic: topicRef },
          physicalResourceId: { id: `${identity}:${type}` },
        };
        const unset = { ...set, parameters: { Identity: identity, NotificationType: type } };
        expect(made).toContainEqual({ create: set, update: set, delete: unset });
      }
  });

  it('may call SetIdentityNotificationTopic on those identities only', () => {
    const policies = Object.values(full.template.findResources('AWS::IAM::Policy'));
    expect(policies.length).toBeGreaterThan(0);
    for (const policy of policies)
      for (const statement of policy.Properties.PolicyDocument.Statement as Json[]) {
        expect(statement.Action).toBe('ses:SetIdentityNotificationTopic');
        const resources = asList(statement.Resource).map((resource) => JSON.stringify(resource));
        expect(resources).toHaveLength(IDENTITIES.length);
        IDENTITIES.forEach((identity, index) =>
          expect(resources[index]).toContain(`:identity/${identity}"`),
        );
      }
  });
});

describe('inbound mail (optional)', () => {
  it('is absent unless recipients are given', () => {
    for (const type of ['AWS::S3::Bucket', 'AWS::SES::ReceiptRuleSet', 'AWS::SES::ReceiptRule'])
      expect(minimal.template.findResources(type)).toEqual({});
    expect(minimal.json.Outputs.InboundBucketName).toBeUndefined();
  });

  it('stores mail in a private, S3-encrypted, TLS-only bucket that expires it', () => {
    const bucket = full.json.Resources[logicalId(full, 'InboundMail/Resource')];
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: {
        Rules: [
          {
            Id: 'ExpireStoredMail',
            Prefix: 'inbound/',
            ExpirationInDays: 10,
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            Status: 'Enabled',
          },
        ],
      },
    });
  });

  it('lets SES put objects under the prefix only for this account and this receipt rule', () => {
    const bucketId = logicalId(full, 'InboundMail/Resource');
    const policy = full.json.Resources[logicalId(full, 'InboundMail/Policy/Resource')].Properties
      .PolicyDocument.Statement as Json[];
    expect(policy).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 's3:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    const sesPut = policy.find((statement) => statement.Sid === 'SesStoresInboundMail');
    expect(sesPut).toEqual({
      Sid: 'SesStoresInboundMail',
      Effect: 'Allow',
      Principal: { Service: 'ses.amazonaws.com' },
      Action: 's3:PutObject',
      Resource: { 'Fn::Join': ['', [getAttArn(bucketId), '/inbound/*']] },
      Condition: {
        StringEquals: {
          'aws:SourceAccount': { Ref: 'AWS::AccountId' },
          'aws:SourceArn': {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':ses:',
                { Ref: 'AWS::Region' },
                ':',
                { Ref: 'AWS::AccountId' },
                ':receipt-rule-set/ses-events-inbound:receipt-rule/ses-events-store-in-s3',
              ],
            ],
          },
        },
      },
    });
  });

  it('has one receipt rule with one S3 action that notifies the topic, and no SNS action', () => {
    const rule = only(full, 'AWS::SES::ReceiptRule').resource;
    expect(rule.Properties.Rule).toEqual({
      Name: 'ses-events-store-in-s3',
      Enabled: true,
      ScanEnabled: true,
      Recipients: ['mail.example.com', 'forward@example.net'],
      Actions: [
        {
          S3Action: {
            BucketName: { Ref: logicalId(full, 'InboundMail/Resource') },
            ObjectKeyPrefix: 'inbound/',
            TopicArn: { Ref: logicalId(full, 'Topic/Resource') },
          },
        },
      ],
    });
    // SES checks its permissions when the rule is created: the policies must exist first.
    expect(rule.DependsOn).toEqual(
      expect.arrayContaining([
        logicalId(full, 'InboundMail/Policy/Resource'),
        logicalId(full, 'Topic/Policy/Resource'),
      ]),
    );
    expect(only(full, 'AWS::SES::ReceiptRuleSet').resource.Properties.RuleSetName).toBe(
      'ses-events-inbound',
    );
    expect(full.json.Outputs.ReceiptRuleSetName.Description).toContain(
      'aws ses set-active-receipt-rule-set',
    );
  });
});

describe("the worker's policy", () => {
  const QUEUE_ACTIONS = [
    'sqs:ChangeMessageVisibility',
    'sqs:DeleteMessage',
    'sqs:GetQueueAttributes',
    'sqs:ReceiveMessage',
  ];
  const SUPPRESSION_ACTIONS = [
    'ses:DeleteSuppressedDestination',
    'ses:GetSuppressedDestination',
    'ses:ListSuppressedDestinations',
    'ses:PutSuppressedDestination',
  ];

  it('grants exactly what `run` calls on the queue and the DLQ, and nothing more, by default', () => {
    expect(grants(statementsOf(minimal, 'WorkerPolicy'))).toEqual({
      DrainQueue: {
        actions: QUEUE_ACTIONS,
        resources: [getAttArn(logicalId(minimal, 'Queue/Resource'))],
      },
      DeadLetter: {
        actions: ['sqs:GetQueueAttributes', 'sqs:SendMessage'],
        resources: [getAttArn(logicalId(minimal, 'DeadLetterQueue/Resource'))],
      },
    });
  });

  it('adds the inbound prefix, the SES sync and the import prefix only when asked for', () => {
    const inbound = getAttArn(logicalId(full, 'InboundMail/Resource'));
    const imports = getAttArn(logicalId(full, 'SuppressionImports/Resource'));
    expect(grants(statementsOf(full, 'WorkerPolicy'))).toEqual({
      DrainQueue: {
        actions: QUEUE_ACTIONS,
        resources: [getAttArn(logicalId(full, 'Queue/Resource'))],
      },
      DeadLetter: {
        actions: ['sqs:GetQueueAttributes', 'sqs:SendMessage'],
        resources: [getAttArn(logicalId(full, 'DeadLetterQueue/Resource'))],
      },
      ReadInboundMail: {
        actions: ['s3:GetObject'],
        resources: [{ 'Fn::Join': ['', [inbound, '/inbound/*']] }],
      },
      SesSuppressionList: {
        actions: [...SUPPRESSION_ACTIONS, 'ses:CreateImportJob', 'ses:GetImportJob'].sort(),
        resources: ['*'],
      },
      WriteSuppressionImports: {
        actions: ['s3:PutObject'],
        resources: [{ 'Fn::Join': ['', [imports, `/${SES_IMPORT_KEY_PREFIX}*`]] }],
      },
    });
    expect(grants(statementsOf(pushOnly, 'WorkerPolicy')).SesSuppressionList).toEqual({
      actions: SUPPRESSION_ACTIONS,
      resources: ['*'],
    });
    expect(pushOnly.template.findResources('AWS::S3::Bucket')).toEqual({});
  });

  it('has no "*" action anywhere, and "*" as a resource only where SESv2 allows nothing else', () => {
    for (const synth of [minimal, full, pushOnly]) {
      for (const statement of statementsOf(synth, 'WorkerPolicy')) {
        for (const action of asList(statement.Action as string | string[]))
          expect(action).not.toMatch(/\*/);
        if (statement.Sid === 'SesSuppressionList') {
          // The suppression list is account-level: "*" is the only resource IAM accepts, so the
          // statement is held to this stack's region.
          expect(statement.Condition).toEqual({
            StringEquals: { 'aws:RequestedRegion': { Ref: 'AWS::Region' } },
          });
          expect(asList(statement.Action as string[]).every((a) => a.startsWith('ses:'))).toBe(
            true,
          );
        } else {
          expect(asList(statement.Resource)).not.toContain('*');
        }
      }
    }
    const wildcardResources = (synth: Synthesised) =>
      statementsOf(synth, 'WorkerPolicy').filter((s) => asList(s.Resource).includes('*'));
    expect(wildcardResources(minimal)).toEqual([]);
  });
});

describe('the operator and KEDA policies', () => {
  it("give replay-dlq and dlq stats the DLQ's reads, deletes and move tasks, and the send back", () => {
    expect(grants(statementsOf(minimal, 'OperatorPolicy'))).toEqual({
      ReadAndMoveDeadLetters: {
        actions: [
          'sqs:CancelMessageMoveTask',
          'sqs:ChangeMessageVisibility',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
          'sqs:ListMessageMoveTasks',
          'sqs:ReceiveMessage',
          'sqs:StartMessageMoveTask',
        ],
        resources: [getAttArn(logicalId(minimal, 'DeadLetterQueue/Resource'))],
      },
      ReplayToQueue: {
        actions: ['sqs:GetQueueAttributes', 'sqs:SendMessage'],
        resources: [getAttArn(logicalId(minimal, 'Queue/Resource'))],
      },
    });
  });

  it("give KEDA the queue's attributes and nothing else", () => {
    expect(grants(statementsOf(minimal, 'KedaScalerPolicy'))).toEqual({
      ReadQueueDepth: {
        actions: ['sqs:GetQueueAttributes'],
        resources: [getAttArn(logicalId(minimal, 'Queue/Resource'))],
      },
    });
  });
});

describe('the worker role (optional)', () => {
  it('is absent unless Pod Identity or IRSA is asked for', () => {
    expect(minimal.template.findResources('AWS::IAM::Role')).toEqual({});
    expect(minimal.template.findResources('AWS::EKS::PodIdentityAssociation')).toEqual({});
  });

  it('trusts EKS Pod Identity and the one IRSA service account, with the worker policy attached', () => {
    const role = full.json.Resources[logicalId(full, 'WorkerRole/Resource')].Properties;
    expect(role.ManagedPolicyArns).toEqual([{ Ref: logicalId(full, 'WorkerPolicy/Resource') }]);
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'pods.eks.amazonaws.com' },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
      },
      {
        Effect: 'Allow',
        Principal: { Federated: FULL.oidcProviderArn },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            [`${OIDC_ISSUER}:sub`]: 'system:serviceaccount:mail:ses-worker',
            [`${OIDC_ISSUER}:aud`]: 'sts.amazonaws.com',
          },
        },
      },
    ]);
    full.template.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
      ClusterName: 'prod',
      Namespace: 'mail',
      ServiceAccount: 'ses-worker',
      RoleArn: getAttArn(logicalId(full, 'WorkerRole/Resource')),
    });
  });
});

describe('the outputs', () => {
  const outputs = (synth: Synthesised): Json => synth.json.Outputs as Json;

  it("are the worker's environment variables, each described by its name", () => {
    const out = outputs(minimal);
    expect(out[WORKER_ENV_OUTPUTS.SQS_QUEUE_URL]).toEqual({
      Description: expect.stringMatching(/^SQS_QUEUE_URL: /),
      Value: { Ref: logicalId(minimal, 'Queue/Resource') },
    });
    expect(out[WORKER_ENV_OUTPUTS.SQS_DLQ_URL].Value).toEqual({
      Ref: logicalId(minimal, 'DeadLetterQueue/Resource'),
    });
    // One ARN: worker/config.ts takes a comma-separated list and checks each.
    expect(out[WORKER_ENV_OUTPUTS.SNS_TOPIC_ARNS].Value).toEqual({
      Ref: logicalId(minimal, 'Topic/Resource'),
    });
    expect(out[WORKER_ENV_OUTPUTS.AWS_REGION].Value).toEqual({ Ref: 'AWS::Region' });
    for (const [variable, key] of Object.entries(WORKER_ENV_OUTPUTS))
      if (out[key] !== undefined)
        expect(out[key].Description).toMatch(new RegExp(`^${variable}: `));
    expect(Object.keys(out).sort()).toEqual(
      [
        'SQSQUEUEURL',
        'SQSDLQURL',
        'SNSTOPICARNS',
        'AWSREGION',
        'ConfigurationSetName',
        'WorkerPolicyArn',
        'OperatorPolicyArn',
        'KedaScalerPolicyArn',
      ].sort(),
    );
  });

  it('add the sync mode, import bucket, inbound names and role when those are asked for', () => {
    const out = outputs(full);
    expect(out[WORKER_ENV_OUTPUTS.SES_SUPPRESSION_SYNC].Value).toBe('both');
    expect(out[WORKER_ENV_OUTPUTS.SES_SYNC_IMPORT_BUCKET].Value).toEqual({
      Ref: logicalId(full, 'SuppressionImports/Resource'),
    });
    expect(out.InboundBucketName.Value).toEqual({ Ref: logicalId(full, 'InboundMail/Resource') });
    expect(out.WorkerRoleArn.Value).toEqual(getAttArn(logicalId(full, 'WorkerRole/Resource')));
  });
});

describe('the SES import bucket (bulk push only)', () => {
  it('lets SES read the import prefix for this account, and expires the files', () => {
    const id = logicalId(full, 'SuppressionImports/Resource');
    expect(full.json.Resources[id].Properties.LifecycleConfiguration.Rules[0]).toMatchObject({
      ExpirationInDays: 7,
    });
    const statements = full.json.Resources[logicalId(full, 'SuppressionImports/Policy/Resource')]
      .Properties.PolicyDocument.Statement as Json[];
    expect(statements.find((s) => s.Sid === 'SesReadsImportFiles')).toEqual({
      Sid: 'SesReadsImportFiles',
      Effect: 'Allow',
      Principal: { Service: 'ses.amazonaws.com' },
      Action: 's3:GetObject',
      Resource: { 'Fn::Join': ['', [getAttArn(id), `/${SES_IMPORT_KEY_PREFIX}*`]] },
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
  });
});

describe("cdk-nag's AwsSolutions checks", () => {
  const violations = (app: App) =>
    new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(app).violations;

  /** Every acknowledgment in the app: rule id → reason. */
  function acknowledgments(app: App): Map<string, string> {
    const found = new Map<string, string>();
    for (const construct of app.node.findAll())
      for (const entry of construct.node.metadata)
        if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          for (const [id, reason] of Object.entries(entry.data as Record<string, string>))
            found.set(id.replace(/^annotation::/i, ''), reason);
    return found;
  }

  it('find no unacknowledged error or warning in any configuration', () => {
    for (const synth of [minimal, full, pushOnly]) expect(violations(synth.app)).toEqual([]);
  });

  it('acknowledge only what they would report, each with a reason', () => {
    const acknowledge = jest
      .spyOn(Validations.prototype, 'acknowledge')
      .mockImplementation(() => undefined);
    let reported: string[];
    try {
      // Not synthesised: synthesis would stop at the first finding (see the next test).
      const { app } = buildApp({
        outdir: outputDirectory(),
        environment: Object.fromEntries(
          Object.entries(FULL).map(([name, value]) => [SETTINGS[name as SettingName].env, value]),
        ),
      });
      reported = violations(app).map((violation) => violation.ruleName);
    } finally {
      acknowledge.mockRestore();
    }
    const acknowledged = acknowledgments(full.app);
    expect([...acknowledged.keys()].sort()).toEqual([...new Set(reported)].sort());
    for (const [id, reason] of acknowledged) {
      expect(id).toMatch(/^AwsSolutions-/);
      expect(reason.length).toBeGreaterThan(60);
    }
  });

  it('fail synthesis on a finding (the app registers them as a validation plugin)', () => {
    const { app, stack } = buildApp({ outdir: outputDirectory() });
    // An SSL-optional queue: AwsSolutions-SQS4 (and SQS3, no DLQ).
    new sqs.Queue(stack, 'Careless');
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
    } finally {
      error.mockRestore();
    }
  });
});

describe('docs/deploy-aws.md', () => {
  const DOC = join(__dirname, '..', '..', 'docs', 'deploy-aws.md');
  const PLACEHOLDERS = { region: 'REGION', account: 'ACCOUNT_ID' };

  /** CloudFormation intrinsics resolved to the names a reader substitutes. */
  function resolve(value: unknown, synth: Synthesised): unknown {
    if (Array.isArray(value)) return value.map((item) => resolve(item, synth));
    if (typeof value !== 'object' || value === null) return value;
    const object = value as Json;
    if ('Ref' in object) {
      if (object.Ref === 'AWS::Region') return PLACEHOLDERS.region;
      if (object.Ref === 'AWS::AccountId') return PLACEHOLDERS.account;
      if (object.Ref === 'AWS::Partition') return 'aws';
    }
    if ('Fn::GetAtt' in object) {
      const resource = synth.json.Resources[object['Fn::GetAtt'][0]];
      if (resource.Type === 'AWS::SQS::Queue')
        return `arn:aws:sqs:${PLACEHOLDERS.region}:${PLACEHOLDERS.account}:${resource.Properties.QueueName}`;
      if (resource.Type === 'AWS::S3::Bucket')
        return object['Fn::GetAtt'][0] === logicalId(synth, 'InboundMail/Resource')
          ? 'arn:aws:s3:::INBOUND_BUCKET'
          : 'arn:aws:s3:::IMPORT_BUCKET';
    }
    if ('Fn::Join' in object) {
      const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
      return parts.map((part) => resolve(part, synth)).join(separator);
    }
    return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, resolve(v, synth)]));
  }

  const rendered = (policy: string) => ({
    Version: '2012-10-17',
    Statement: resolve(statementsOf(full, policy), full),
  });
  const BLOCKS = {
    'worker-policy': () => rendered('WorkerPolicy'),
    'operator-policy': () => rendered('OperatorPolicy'),
    'keda-policy': () => rendered('KedaScalerPolicy'),
  };
  const blockPattern = (name: string) =>
    new RegExp(`(<!-- generated: ${name} -->\\s*\`\`\`json\\n)([\\s\\S]*?)(\\n\`\`\`)`);

  it('lists every app setting and every output that sets a worker variable', () => {
    const doc = readFileSync(DOC, 'utf8');
    for (const { context, env } of Object.values(SETTINGS))
      expect(doc).toMatch(new RegExp(`\\| \`${context}\`\\s+\\| \`${env}\`\\s+\\|`));
    for (const [variable, key] of Object.entries(WORKER_ENV_OUTPUTS))
      expect(doc).toMatch(new RegExp(`\\| \`${key}\`\\s+\\| \`${variable}\`\\s+\\|`));
  });

  it('shows the policies as the construct makes them (WRITE_POLICY_DOCS=1 rewrites them; then prettier)', () => {
    let doc = readFileSync(DOC, 'utf8');
    for (const [name, render] of Object.entries(BLOCKS)) {
      const json = JSON.stringify(render(), null, 2);
      if (process.env.WRITE_POLICY_DOCS === '1')
        doc = doc.replace(
          blockPattern(name),
          (_all, open: string, _old, close: string) => `${open}${json}${close}`,
        );
      const block = blockPattern(name).exec(doc)?.[2];
      expect(block).toBeDefined();
      expect(JSON.parse(block!)).toEqual(render());
    }
    if (process.env.WRITE_POLICY_DOCS === '1') writeFileSync(DOC, doc);
  });
});

describe('the app settings', () => {
  const lookup =
    (values: Partial<Record<SettingName, string>>) =>
    (name: SettingName): string | undefined =>
      values[name];

  it('need nothing: the default is the queue, the DLQ, the topic and the configuration set', () => {
    expect(wiringProps(lookup({}))).toEqual({ name: 'ses-events' });
  });

  it('name what is wrong', () => {
    expect(() => wiringProps(lookup({ sesSuppressionSync: 'sometimes' }))).toThrow(
      'sesSuppressionSync: expected one of off, push, pull, both, got "sometimes"',
    );
    expect(() => wiringProps(lookup({ inboundExpireDays: '0' }))).toThrow(
      'inboundExpireDays: expected a whole number of days, got 0',
    );
  });

  it('read CDK context before the environment', () => {
    const { stack } = buildApp({
      outdir: outputDirectory(),
      context: { name: 'from-context' },
      environment: { SES_WORKER_NAME: 'from-env', SES_WORKER_STACK_NAME: 'FromEnv' },
    });
    expect(stack.stackName).toBe('FromEnv');
    expect(stack.wiring.queue.node.defaultChild).toBeDefined();
    Template.fromStack(stack).hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'from-context-queue',
    });
  });
});
