/**
 * Everything on AWS between SES and the worker, as one CDK construct: the SNS topic SES
 * publishes to, the queue the worker drains and its DLQ, SES's configuration set (and,
 * optionally, identity notifications and an inbound receipt rule storing mail in S3), and the
 * IAM policies the worker, its operators and KEDA need — each with exactly the actions the code
 * calls, on exactly the resources it calls them on. Settings come from domain/sesTopology.ts,
 * as the embedded emulator's and docker-compose's do. docs/deploy-aws.md explains each choice.
 */
import { Aws, CfnOutput, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { SES_IMPORT_KEY_PREFIX, type SesSyncMode } from '../../domain/sesSync';
import {
  DEFAULT_TOPOLOGY_NAME,
  queueSettingsProblems,
  SES_EVENT_TYPES,
  SES_IDENTITY_NOTIFICATION_TYPES,
  SES_QUEUE_SETTINGS,
  sesTopologyNames,
  type SesQueueSettings,
} from '../../domain/sesTopology';

/** Mail SES receives for a domain or addresses, stored in S3 for the worker to forward. */
export interface InboundMailProps {
  /** Domains or addresses the receipt rule matches (SES's `Recipients`). At least one. */
  readonly recipients: readonly string[];
  /** The receipt rule set; default `<name>-inbound`. CloudFormation cannot make it active. */
  readonly ruleSetName?: string;
  /** Where in the bucket SES writes; default `inbound/`. The worker may read only there. */
  readonly objectKeyPrefix?: string;
  /** Stored mail is deleted this many days after SES wrote it; default 30. */
  readonly expireAfterDays?: number;
  /** S3 server access logs go here when given; otherwise CloudTrail data events are the audit. */
  readonly serverAccessLogsBucket?: s3.IBucket;
  /** Default RETAIN: deleting the stack leaves the mail bucket. */
  readonly removalPolicy?: RemovalPolicy;
}

/** The worker's SES suppression sync (SES_SUPPRESSION_SYNC), and its bulk import bucket. */
export interface SesSuppressionSyncProps {
  readonly mode: Exclude<SesSyncMode, 'off'>;
  /** Create SES_SYNC_IMPORT_BUCKET for `suppression push --all --bulk`; default false. */
  readonly bulkImport?: boolean;
  /** CSV files in the import bucket are deleted after this many days; default 7. */
  readonly importExpireAfterDays?: number;
}

/** A Kubernetes service account the worker runs as. */
export interface ServiceAccountRef {
  readonly namespace: string;
  readonly serviceAccount: string;
}

export interface PodIdentityProps extends ServiceAccountRef {
  /** Create the EKS Pod Identity association too (the EKS Pod Identity Agent must run). */
  readonly clusterName?: string;
}

export interface IrsaProps extends ServiceAccountRef {
  /** The cluster's IAM OIDC provider, as a literal ARN (its issuer becomes the condition keys). */
  readonly oidcProviderArn: string;
}

export interface SesWorkerWiringProps {
  /** Topic `<name>`, queues `<name>-queue` and `<name>-dlq`; default `ses-events`. */
  readonly name?: string;
  /**
   * Overrides of domain/sesTopology.ts's settings. Raw delivery is not among them: the worker
   * verifies SNS signatures, which raw delivery makes impossible.
   */
  readonly queueSettings?: Partial<Omit<SesQueueSettings, 'rawMessageDelivery'>>;
  /** The configuration set senders name (SES's ConfigurationSetName); default `<name>`. */
  readonly configurationSetName?: string;
  /**
   * Verified identities (domains or addresses) whose Bounce, Complaint and Delivery feedback
   * notifications should go to the topic too: for mail sent without the configuration set.
   */
  readonly identityNotifications?: readonly string[];
  readonly inbound?: InboundMailProps;
  readonly sesSuppressionSync?: SesSuppressionSyncProps;
  /** A role for EKS Pod Identity, with the worker policy attached. */
  readonly podIdentity?: PodIdentityProps;
  /** A role for IRSA (IAM roles for service accounts), with the worker policy attached. */
  readonly irsa?: IrsaProps;
}

/**
 * The stack outputs, by the worker variable each one sets (docs/deploy-aws.md): the output key
 * is the variable without underscores, its description starts with the variable's name.
 */
export const WORKER_ENV_OUTPUTS = {
  SQS_QUEUE_URL: 'SQSQUEUEURL',
  SQS_DLQ_URL: 'SQSDLQURL',
  SNS_TOPIC_ARNS: 'SNSTOPICARNS',
  AWS_REGION: 'AWSREGION',
  SES_SUPPRESSION_SYNC: 'SESSUPPRESSIONSYNC',
  SES_SYNC_IMPORT_BUCKET: 'SESSYNCIMPORTBUCKET',
} as const;

/** SQS actions, each the IAM name of SDK commands the code sends (see the policies below). */
const SQS = {
  receive: 'sqs:ReceiveMessage',
  /** DeleteMessage and DeleteMessageBatch. */
  delete: 'sqs:DeleteMessage',
  /** ChangeMessageVisibility(Batch): sqs-consumer's heartbeat, replay's release. */
  changeVisibility: 'sqs:ChangeMessageVisibility',
  getAttributes: 'sqs:GetQueueAttributes',
  /** SendMessage and SendMessageBatch. */
  send: 'sqs:SendMessage',
  startMoveTask: 'sqs:StartMessageMoveTask',
  listMoveTasks: 'sqs:ListMessageMoveTasks',
  cancelMoveTask: 'sqs:CancelMessageMoveTask',
} as const;

/** SESv2's suppression-list actions: account-level, so IAM accepts no resource but "*". */
const SES_SUPPRESSION_ACTIONS = [
  'ses:GetSuppressedDestination',
  'ses:PutSuppressedDestination',
  'ses:DeleteSuppressedDestination',
  'ses:ListSuppressedDestinations',
];
const SES_IMPORT_ACTIONS = ['ses:CreateImportJob', 'ses:GetImportJob'];

/**
 * One per stack: its outputs have fixed keys (WORKER_ENV_OUTPUTS), so a second instance in the
 * same stack would collide with the first.
 */
export class SesWorkerWiring extends Construct {
  readonly settings: SesQueueSettings;
  readonly topic: sns.Topic;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly configurationSet: ses.ConfigurationSet;
  /** What `ses-worker run` needs, and nothing else. */
  readonly workerPolicy: iam.ManagedPolicy;
  /** `replay-dlq` and `dlq stats`: for the people (or jobs) who run them, not the worker. */
  readonly operatorPolicy: iam.ManagedPolicy;
  /** KEDA's `aws-sqs-queue` scaler reading the queue's depth. */
  readonly kedaScalerPolicy: iam.ManagedPolicy;
  readonly inboundBucket?: s3.Bucket;
  readonly receiptRuleSet?: ses.ReceiptRuleSet;
  readonly importBucket?: s3.Bucket;
  readonly workerRole?: iam.Role;

  constructor(scope: Construct, id: string, props: SesWorkerWiringProps = {}) {
    super(scope, id);
    const name = props.name ?? DEFAULT_TOPOLOGY_NAME;
    const names = sesTopologyNames(name);
    this.settings = { ...SES_QUEUE_SETTINGS, ...props.queueSettings, rawMessageDelivery: false };
    const problems = queueSettingsProblems(this.settings);
    if (problems.length > 0) throw new Error(`SesWorkerWiring ${id}: ${problems.join('; ')}`);

    // Unencrypted on purpose: SES cannot publish to a topic under the AWS-managed aws/sns key,
    // and a notification rests here only until SNS hands it to the SSE-encrypted queue.
    // Publishing requires TLS (enforceSSL).
    this.topic = new sns.Topic(this, 'Topic', { topicName: names.topic, enforceSSL: true });

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      queueName: names.dlq,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.seconds(this.settings.dlqRetentionSeconds),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      queueName: names.queue,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(this.settings.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(this.settings.retentionSeconds),
      receiveMessageWaitTime: Duration.seconds(this.settings.receiveWaitTimeSeconds),
      deadLetterQueue: {
        queue: this.deadLetterQueue,
        maxReceiveCount: this.settings.maxReceiveCount,
      },
    });
    // Also writes the queue policy: sns.amazonaws.com may SendMessage when aws:SourceArn is
    // this topic, and nothing else may.
    this.topic.addSubscription(
      new subscriptions.SqsSubscription(this.queue, { rawMessageDelivery: false }),
    );

    this.configurationSet = new ses.ConfigurationSet(this, 'ConfigurationSet', {
      configurationSetName: props.configurationSetName ?? name,
    });
    // Also adds the topic policy statement letting SES publish for this configuration set.
    this.configurationSet.addEventDestination('ToTopic', {
      destination: ses.EventDestination.snsTopic(this.topic),
      events: SES_EVENT_TYPES.map((event) => event as ses.EmailSendingEvent),
    });

    if (props.identityNotifications !== undefined && props.identityNotifications.length > 0)
      this.notifyForIdentities(props.identityNotifications);
    if (props.inbound !== undefined) {
      const inbound = this.receiveMail(name, props.inbound);
      this.inboundBucket = inbound.bucket;
      this.receiptRuleSet = inbound.ruleSet;
    }
    if (props.sesSuppressionSync?.bulkImport === true)
      this.importBucket = this.createImportBucket(props.sesSuppressionSync);

    this.workerPolicy = new iam.ManagedPolicy(this, 'WorkerPolicy', {
      description: 'ses-worker run: drain the SES queue, dead-letter, and what its options use',
      statements: this.workerStatements(props),
    });
    this.acknowledgeWorkerWildcards(props);
    this.operatorPolicy = new iam.ManagedPolicy(this, 'OperatorPolicy', {
      description: 'ses-worker replay-dlq and dlq stats: inspect and move dead letters back',
      statements: this.operatorStatements(),
    });
    this.kedaScalerPolicy = new iam.ManagedPolicy(this, 'KedaScalerPolicy', {
      description: "KEDA's aws-sqs-queue scaler: read the SES queue's depth",
      statements: [
        new iam.PolicyStatement({
          sid: 'ReadQueueDepth',
          actions: [SQS.getAttributes],
          resources: [this.queue.queueArn],
        }),
      ],
    });
    if (props.podIdentity !== undefined || props.irsa !== undefined)
      this.workerRole = this.createWorkerRole(props.podIdentity, props.irsa);

    this.outputs(props);
  }

  /**
   * The statements of the worker's policy, derived from the SDK commands `run` sends:
   * - queue: ReceiveMessage (sqs-consumer), DeleteMessageBatch (ingest), ChangeMessageVisibility
   *   and its Batch form (sqs-consumer's heartbeat), GetQueueAttributes (readiness's QueueArn);
   * - DLQ: SendMessageBatch (poison messages), GetQueueAttributes (its MaximumMessageSize, and
   *   the status page's depth);
   * - inbound bucket: GetObject under the receipt rule's prefix (adapters/s3/messages.ts);
   * - SES sync: the SESv2 suppression-list calls (adapters/ses/suppressionList.ts), and with
   *   bulk import PutObject under SES_IMPORT_KEY_PREFIX plus CreateImportJob / GetImportJob.
   */
  private workerStatements(props: SesWorkerWiringProps): iam.PolicyStatement[] {
    const statements = [
      new iam.PolicyStatement({
        sid: 'DrainQueue',
        actions: [SQS.receive, SQS.delete, SQS.changeVisibility, SQS.getAttributes],
        resources: [this.queue.queueArn],
      }),
      new iam.PolicyStatement({
        sid: 'DeadLetter',
        actions: [SQS.send, SQS.getAttributes],
        resources: [this.deadLetterQueue.queueArn],
      }),
    ];
    if (this.inboundBucket !== undefined)
      statements.push(
        new iam.PolicyStatement({
          sid: 'ReadInboundMail',
          actions: ['s3:GetObject'],
          resources: [this.inboundBucket.arnForObjects(`${inboundPrefix(props.inbound)}*`)],
        }),
      );
    const sync = props.sesSuppressionSync;
    if (sync !== undefined) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'SesSuppressionList',
          actions: [...SES_SUPPRESSION_ACTIONS, ...(sync.bulkImport ? SES_IMPORT_ACTIONS : [])],
          // SESv2 defines no resource type for these actions: "*" is the only resource IAM
          // accepts. The region condition keeps it to this stack's suppression list.
          resources: ['*'],
          conditions: { StringEquals: { 'aws:RequestedRegion': Stack.of(this).region } },
        }),
      );
    }
    if (this.importBucket !== undefined)
      statements.push(
        new iam.PolicyStatement({
          sid: 'WriteSuppressionImports',
          actions: ['s3:PutObject'],
          resources: [this.importBucket.arnForObjects(`${SES_IMPORT_KEY_PREFIX}*`)],
        }),
      );
    return statements;
  }

  /**
   * cdk-nag's IAM5 flags every wildcard; these are the deliberate ones, each acknowledged by
   * its exact finding so that any other wildcard still fails the check.
   */
  private acknowledgeWorkerWildcards(props: SesWorkerWiringProps): void {
    const arnToken = (bucket: s3.Bucket) =>
      `<${Stack.of(this).resolve((bucket.node.defaultChild as s3.CfnBucket).logicalId)}.Arn>`;
    const acknowledgments: { id: string; reason: string }[] = [];
    if (this.inboundBucket !== undefined)
      acknowledgments.push({
        id: `AwsSolutions-IAM5[Resource::${arnToken(this.inboundBucket)}/${inboundPrefix(props.inbound)}*]`,
        reason:
          'SES names each stored mail by its message id: the worker may read any object under the receipt rule prefix, and nothing else in the bucket.',
      });
    if (this.importBucket !== undefined)
      acknowledgments.push({
        id: `AwsSolutions-IAM5[Resource::${arnToken(this.importBucket)}/${SES_IMPORT_KEY_PREFIX}*]`,
        reason:
          'Bulk pushes write one CSV file per run and part, named by time: the worker may write under its import prefix only.',
      });
    if (props.sesSuppressionSync !== undefined)
      acknowledgments.push({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          "SESv2's suppression-list and import-job actions are account-level and support no resource ARN; the statement holds only those actions, only in this region (aws:RequestedRegion), and only with sesSuppressionSync.",
      });
    if (acknowledgments.length > 0)
      Validations.of(this.workerPolicy).acknowledge(...acknowledgments);
  }

  /**
   * `replay-dlq` (client-side): ReceiveMessage, ChangeMessageVisibilityBatch (release) and
   * DeleteMessageBatch on the DLQ, SendMessageBatch to the queue, GetQueueAttributes on both
   * (depth, MaximumMessageSize). `--native`: GetQueueAttributes (QueueArn) on both, then
   * Start/List/CancelMessageMoveTask on the DLQ; SQS's move task itself needs the receive and
   * delete on the DLQ and the send on the queue, which the same statements give. `dlq stats`
   * receives and releases only.
   */
  private operatorStatements(): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({
        sid: 'ReadAndMoveDeadLetters',
        actions: [
          SQS.receive,
          SQS.delete,
          SQS.changeVisibility,
          SQS.getAttributes,
          SQS.startMoveTask,
          SQS.listMoveTasks,
          SQS.cancelMoveTask,
        ],
        resources: [this.deadLetterQueue.queueArn],
      }),
      new iam.PolicyStatement({
        sid: 'ReplayToQueue',
        actions: [SQS.send, SQS.getAttributes],
        resources: [this.queue.queueArn],
      }),
    ];
  }

  /**
   * CloudFormation has no resource for an identity's notification topics, so a custom resource
   * calls SES's SetIdentityNotificationTopic per identity and type, and unsets it on delete.
   */
  private notifyForIdentities(identities: readonly string[]): void {
    const stack = Stack.of(this);
    const identityArns = identities.map((identity) =>
      stack.formatArn({ service: 'ses', resource: 'identity', resourceName: identity }),
    );
    const policy = cr.AwsCustomResourcePolicy.fromStatements([
      new iam.PolicyStatement({
        actions: ['ses:SetIdentityNotificationTopic'],
        resources: identityArns,
      }),
    ]);
    this.allowSesToPublish('IdentityNotifications', identityArns);
    identities.forEach((identity, index) => {
      for (const type of SES_IDENTITY_NOTIFICATION_TYPES) {
        const call = (topic: boolean): cr.AwsSdkCall => ({
          service: 'SES',
          action: 'SetIdentityNotificationTopic',
          parameters: {
            Identity: identity,
            NotificationType: type,
            ...(topic ? { SnsTopic: this.topic.topicArn } : {}),
          },
          physicalResourceId: cr.PhysicalResourceId.of(`${identity}:${type}`),
        });
        const resource = new cr.AwsCustomResource(this, `Notify${index}${type}`, {
          onCreate: call(true),
          onUpdate: call(true),
          onDelete: call(false),
          policy,
          installLatestAwsSdk: false,
        });
        resource.node.addDependency(this.topic);
      }
    });
    const provider = stack.node.tryFindChild(
      `AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replaceAll('-', '')}`,
    );
    if (provider !== undefined) {
      Validations.of(provider).acknowledge(
        {
          id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          reason:
            "The CDK's AwsCustomResource provider function writes its own logs with AWS's basic execution role; it only runs at deploy time to call SetIdentityNotificationTopic.",
        },
        {
          id: 'AwsSolutions-L1',
          reason:
            'The runtime of the AwsCustomResource provider function is chosen by aws-cdk-lib, not by this construct; it runs only during deployments.',
        },
      );
    }
  }

  /**
   * SES publishing to the topic for receipt rules and identity notifications (the configuration
   * set's event destination adds its own statement): only as this account, for these sources.
   */
  private allowSesToPublish(sid: string, sourceArns: readonly string[]) {
    return this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid,
        principals: [new iam.ServicePrincipal('ses.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: { 'aws:SourceArn': [...sourceArns] },
        },
      }),
    );
  }

  /**
   * A receipt rule storing mail in S3 and notifying the topic (the `Received` notification the
   * worker reads, pointing at the object). Only the S3 action: an extra SNS action would publish
   * a second `Received` for the same mail, with the mail inline (and SES bounces mail over
   * 150 KB for an SNS action).
   */
  private receiveMail(name: string, inbound: InboundMailProps) {
    if (inbound.recipients.length === 0)
      throw new Error('SesWorkerWiring inbound: expected at least one recipient');
    const stack = Stack.of(this);
    const prefix = inboundPrefix(inbound);
    const ruleSetName = inbound.ruleSetName ?? `${name}-inbound`;
    const ruleName = `${name}-store-in-s3`;
    const ruleArn = stack.formatArn({
      service: 'ses',
      resource: 'receipt-rule-set',
      resourceName: `${ruleSetName}:receipt-rule/${ruleName}`,
    });

    const bucket = new s3.Bucket(this, 'InboundMail', {
      // S3-managed keys: SES writes without KMS grants, and the worker reads plain objects
      // (it refuses SES's client-side KMS encryption, which it cannot decrypt).
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      removalPolicy: inbound.removalPolicy ?? RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'ExpireStoredMail',
          prefix,
          expiration: Duration.days(inbound.expireAfterDays ?? 30),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      ...(inbound.serverAccessLogsBucket === undefined
        ? {}
        : {
            serverAccessLogsBucket: inbound.serverAccessLogsBucket,
            serverAccessLogsPrefix: 'ses-inbound/',
          }),
    });
    if (inbound.serverAccessLogsBucket === undefined)
      Validations.of(bucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason:
          'No serverAccessLogsBucket was given: only SES writes here and only the worker reads, both through IAM; use CloudTrail S3 data events, or pass inbound.serverAccessLogsBucket.',
      });
    const bucketPolicy = bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'SesStoresInboundMail',
        principals: [new iam.ServicePrincipal('ses.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [bucket.arnForObjects(`${prefix}*`)],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID, 'aws:SourceArn': ruleArn },
        },
      }),
    );
    const topicPolicy = this.allowSesToPublish('ReceiptRule', [ruleArn]);

    const ruleSet = new ses.ReceiptRuleSet(this, 'ReceiptRuleSet', {
      receiptRuleSetName: ruleSetName,
    });
    const rule = ruleSet.addRule('StoreInS3', {
      receiptRuleName: ruleName,
      recipients: [...inbound.recipients],
      enabled: true,
      // Spam and virus verdicts: the worker's FORWARD_FAILED_VERDICTS acts on them.
      scanEnabled: true,
      actions: [
        {
          bind: () => ({
            s3Action: {
              bucketName: bucket.bucketName,
              objectKeyPrefix: prefix,
              topicArn: this.topic.topicArn,
            },
          }),
        },
      ],
    });
    // SES checks at creation that it may write to the bucket and publish to the topic.
    if (bucketPolicy.policyDependable !== undefined)
      rule.node.addDependency(bucketPolicy.policyDependable);
    if (topicPolicy.policyDependable !== undefined)
      rule.node.addDependency(topicPolicy.policyDependable);
    return { bucket, ruleSet };
  }

  /** SES_SYNC_IMPORT_BUCKET: the worker writes CSV files, SES's import job reads them. */
  private createImportBucket(sync: SesSuppressionSyncProps): s3.Bucket {
    const bucket = new s3.Bucket(this, 'SuppressionImports', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.DESTROY,
      lifecycleRules: [
        {
          id: 'ExpireImportFiles',
          expiration: Duration.days(sync.importExpireAfterDays ?? 7),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'SesReadsImportFiles',
        principals: [new iam.ServicePrincipal('ses.amazonaws.com')],
        actions: ['s3:GetObject'],
        resources: [bucket.arnForObjects(`${SES_IMPORT_KEY_PREFIX}*`)],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );
    Validations.of(bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Transient CSV files for SES import jobs, written by the worker and read by SES, deleted by the lifecycle rule: access logs would outlive the data they describe.',
    });
    return bucket;
  }

  /** One role trusting whichever of Pod Identity and IRSA were asked for. */
  private createWorkerRole(podIdentity?: PodIdentityProps, irsa?: IrsaProps): iam.Role {
    const principals: iam.IPrincipal[] = [];
    if (podIdentity !== undefined)
      // Pod Identity assumes the role with sts:AssumeRole and sts:TagSession.
      principals.push(
        new iam.SessionTagsPrincipal(new iam.ServicePrincipal('pods.eks.amazonaws.com')),
      );
    if (irsa !== undefined) {
      if (Token.isUnresolved(irsa.oidcProviderArn))
        throw new Error(
          'SesWorkerWiring irsa.oidcProviderArn: expected a literal ARN, got a token',
        );
      const issuer = irsa.oidcProviderArn.split(':oidc-provider/')[1];
      if (issuer === undefined || issuer === '')
        throw new Error(
          `SesWorkerWiring irsa.oidcProviderArn: expected arn:aws:iam::<account>:oidc-provider/<issuer>, got ${irsa.oidcProviderArn}`,
        );
      const provider = iam.OidcProviderNative.fromOidcProviderArn(
        this,
        'OidcProvider',
        irsa.oidcProviderArn,
      );
      principals.push(
        new iam.OpenIdConnectPrincipal(provider, {
          StringEquals: {
            [`${issuer}:sub`]: `system:serviceaccount:${irsa.namespace}:${irsa.serviceAccount}`,
            [`${issuer}:aud`]: 'sts.amazonaws.com',
          },
        }),
      );
    }
    const role = new iam.Role(this, 'WorkerRole', {
      assumedBy: new iam.CompositePrincipal(...principals),
      description: 'ses-worker pods (EKS Pod Identity / IRSA)',
      managedPolicies: [this.workerPolicy],
    });
    if (podIdentity?.clusterName !== undefined)
      new eks.CfnPodIdentityAssociation(this, 'PodIdentityAssociation', {
        clusterName: podIdentity.clusterName,
        namespace: podIdentity.namespace,
        serviceAccount: podIdentity.serviceAccount,
        roleArn: role.roleArn,
      });
    return role;
  }

  private outputs(props: SesWorkerWiringProps): void {
    const output = (key: string, value: string, description: string) =>
      new CfnOutput(this, key, { value, description }).overrideLogicalId(key);
    output(
      WORKER_ENV_OUTPUTS.SQS_QUEUE_URL,
      this.queue.queueUrl,
      'SQS_QUEUE_URL: the queue the worker drains',
    );
    output(
      WORKER_ENV_OUTPUTS.SQS_DLQ_URL,
      this.deadLetterQueue.queueUrl,
      'SQS_DLQ_URL: where it dead-letters',
    );
    output(
      WORKER_ENV_OUTPUTS.SNS_TOPIC_ARNS,
      this.topic.topicArn,
      'SNS_TOPIC_ARNS: the only topic whose messages it accepts',
    );
    output(WORKER_ENV_OUTPUTS.AWS_REGION, Stack.of(this).region, "AWS_REGION: the queue's region");
    if (props.sesSuppressionSync !== undefined)
      output(
        WORKER_ENV_OUTPUTS.SES_SUPPRESSION_SYNC,
        props.sesSuppressionSync.mode,
        'SES_SUPPRESSION_SYNC: the sync mode asked for',
      );
    if (this.importBucket !== undefined)
      output(
        WORKER_ENV_OUTPUTS.SES_SYNC_IMPORT_BUCKET,
        this.importBucket.bucketName,
        'SES_SYNC_IMPORT_BUCKET: where bulk pushes write',
      );
    output(
      'ConfigurationSetName',
      this.configurationSet.configurationSetName,
      'The configuration set senders name (not a worker variable)',
    );
    if (this.inboundBucket !== undefined)
      output(
        'InboundBucketName',
        this.inboundBucket.bucketName,
        'Where SES stores inbound mail; the worker reads the bucket from each notification',
      );
    if (this.receiptRuleSet !== undefined)
      output(
        'ReceiptRuleSetName',
        this.receiptRuleSet.receiptRuleSetName,
        'Activate with: aws ses set-active-receipt-rule-set --rule-set-name <this>',
      );
    output('WorkerPolicyArn', this.workerPolicy.managedPolicyArn, "The worker's managed policy");
    output(
      'OperatorPolicyArn',
      this.operatorPolicy.managedPolicyArn,
      'For whoever runs replay-dlq and dlq stats',
    );
    output(
      'KedaScalerPolicyArn',
      this.kedaScalerPolicy.managedPolicyArn,
      "For KEDA's aws-sqs-queue scaler",
    );
    if (this.workerRole !== undefined)
      output('WorkerRoleArn', this.workerRole.roleArn, 'The role the worker pods assume');
  }
}

const inboundPrefix = (inbound: InboundMailProps | undefined): string =>
  inbound?.objectKeyPrefix ?? 'inbound/';
