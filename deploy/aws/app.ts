/**
 * The CDK app: one stack holding SesWorkerWiring, checked by cdk-nag's AwsSolutions pack (an
 * unacknowledged finding fails synthesis). Settings come from CDK context (`-c key=value`, or
 * cdk.json) or else the environment, with defaults that need nothing: `npm run synth` works
 * offline with no account. docs/deploy-aws.md lists them.
 */
import { join } from 'node:path';
import { App, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { SES_SYNC_MODES } from '../../domain/sesSync';
import { SesWorkerWiring, type SesWorkerWiringProps } from './sesWorkerWiring';

/** Each setting: its context key and the environment variable read when the key is unset. */
export const SETTINGS = {
  stackName: { context: 'stackName', env: 'SES_WORKER_STACK_NAME' },
  name: { context: 'name', env: 'SES_WORKER_NAME' },
  inboundRecipients: { context: 'inboundRecipients', env: 'SES_WORKER_INBOUND_RECIPIENTS' },
  inboundExpireDays: { context: 'inboundExpireDays', env: 'SES_WORKER_INBOUND_EXPIRE_DAYS' },
  notificationIdentities: {
    context: 'notificationIdentities',
    env: 'SES_WORKER_NOTIFICATION_IDENTITIES',
  },
  sesSuppressionSync: { context: 'sesSuppressionSync', env: 'SES_WORKER_SES_SUPPRESSION_SYNC' },
  sesSyncBulkImport: { context: 'sesSyncBulkImport', env: 'SES_WORKER_SES_SYNC_BULK_IMPORT' },
  podIdentity: { context: 'podIdentity', env: 'SES_WORKER_POD_IDENTITY' },
  eksClusterName: { context: 'eksClusterName', env: 'SES_WORKER_EKS_CLUSTER_NAME' },
  oidcProviderArn: { context: 'oidcProviderArn', env: 'SES_WORKER_OIDC_PROVIDER_ARN' },
  namespace: { context: 'namespace', env: 'SES_WORKER_NAMESPACE' },
  serviceAccount: { context: 'serviceAccount', env: 'SES_WORKER_SERVICE_ACCOUNT' },
} as const;
export type SettingName = keyof typeof SETTINGS;
/** Reads one setting; undefined when neither context nor environment sets it. */
export type SettingLookup = (name: SettingName) => string | undefined;

const list = (text: string | undefined): string[] =>
  (text ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

const flag = (text: string | undefined): boolean =>
  ['true', '1', 'yes', 'on'].includes((text ?? '').trim().toLowerCase());

/** A context value as text: `-c key=value` gives strings, cdk.json may give numbers or lists. */
function contextText(key: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string'))
    return value.join(',');
  throw new Error(
    `${key}: expected text, a number, true/false or a list of text in the CDK context`,
  );
}

/** The construct's props from the settings; a bad value throws, naming the setting. */
export function wiringProps(setting: SettingLookup): SesWorkerWiringProps {
  const recipients = list(setting('inboundRecipients'));
  const identities = list(setting('notificationIdentities'));
  const syncMode = setting('sesSuppressionSync')?.trim() || 'off';
  if (!(SES_SYNC_MODES as readonly string[]).includes(syncMode))
    throw new Error(
      `sesSuppressionSync: expected one of ${SES_SYNC_MODES.join(', ')}, got ${JSON.stringify(syncMode)}`,
    );
  const expireDays = setting('inboundExpireDays');
  if (expireDays !== undefined && !/^[1-9]\d*$/.test(expireDays.trim()))
    throw new Error(`inboundExpireDays: expected a whole number of days, got ${expireDays}`);
  const account = {
    namespace: setting('namespace') ?? 'ses-worker',
    serviceAccount: setting('serviceAccount') ?? 'ses-worker',
  };
  const clusterName = setting('eksClusterName');
  const oidcProviderArn = setting('oidcProviderArn');
  return {
    name: setting('name') ?? 'ses-events',
    ...(identities.length > 0 ? { identityNotifications: identities } : {}),
    ...(recipients.length > 0
      ? {
          inbound: {
            recipients,
            ...(expireDays === undefined ? {} : { expireAfterDays: Number(expireDays) }),
          },
        }
      : {}),
    ...(syncMode === 'off'
      ? {}
      : {
          sesSuppressionSync: {
            mode: syncMode as Exclude<(typeof SES_SYNC_MODES)[number], 'off'>,
            bulkImport: flag(setting('sesSyncBulkImport')),
          },
        }),
    ...(flag(setting('podIdentity')) || clusterName !== undefined
      ? { podIdentity: { ...account, ...(clusterName === undefined ? {} : { clusterName }) } }
      : {}),
    ...(oidcProviderArn === undefined ? {} : { irsa: { ...account, oidcProviderArn } }),
  };
}

export class SesWorkerStack extends Stack {
  readonly wiring: SesWorkerWiring;

  constructor(scope: Construct, id: string, wiring: SesWorkerWiringProps, props?: StackProps) {
    super(scope, id, { description: 'ses-worker: SES → SNS → SQS and its IAM', ...props });
    this.wiring = new SesWorkerWiring(this, 'SesWorker', wiring);
  }
}

/** The app with cdk-nag's AwsSolutions checks registered; synthesis fails on a finding. */
export function buildApp(
  options: {
    outdir?: string;
    environment?: NodeJS.ProcessEnv;
    /** Context as `-c key=value` gives it (the CLI passes its own through the environment). */
    context?: Record<string, string>;
  } = {},
) {
  const environment = options.environment ?? process.env;
  const app = new App({
    ...(options.outdir === undefined ? {} : { outdir: options.outdir }),
    ...(options.context === undefined ? {} : { context: options.context }),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  const setting: SettingLookup = (name) => {
    const key = SETTINGS[name].context;
    const value = contextText(key, app.node.tryGetContext(key)) ?? environment[SETTINGS[name].env];
    return value === undefined || value.trim() === '' ? undefined : value;
  };
  const stack = new SesWorkerStack(app, setting('stackName') ?? 'SesWorker', wiringProps(setting), {
    // Set by the CDK CLI from the credentials in use; unset offline (an environment-agnostic
    // template, region and account resolved at deploy time).
    ...(environment.CDK_DEFAULT_ACCOUNT !== undefined &&
    environment.CDK_DEFAULT_REGION !== undefined
      ? {
          env: {
            account: environment.CDK_DEFAULT_ACCOUNT,
            region: environment.CDK_DEFAULT_REGION,
          },
        }
      : {}),
  });
  return { app, stack };
}

if (require.main === module) {
  // The CDK CLI names the output directory; run directly (npm run synth), it is ./cdk.out.
  const outdir = process.env.CDK_OUTDIR ?? join(process.cwd(), 'cdk.out');
  const { app, stack } = buildApp({ outdir });
  const assembly = app.synth();
  if (process.env.CDK_OUTDIR === undefined) {
    const template = assembly.getStackArtifact(stack.artifactId).templateFullPath;
    process.stdout.write(`Synthesised ${stack.stackName} (cdk-nag AwsSolutions: no findings)\n`);
    process.stdout.write(`Template: ${template}\n`);
  }
}
