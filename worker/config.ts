/**
 * Configuration: environment variables only, decoded by an io-ts codec at start-up. A bad or
 * missing value stops the process with one line naming the variable. The variable names are
 * part of the interface (docs/configuration.md): keep them.
 *
 * An empty value counts as unset (`FOO=` in an env file means "use the default").
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { isLeft } from 'fp-ts/Either';
import * as t from 'io-ts';
import { enumOf, optional, struct } from '../domain/codec/combinators';
import { fromValidationErrors } from '../domain/codec/decodeError';
import { maskUrlCredentials } from '../domain/redact';
import { EXIT, type ExitCode, type Io } from './io';
import type { SuppressionPolicy } from '../domain/suppression';
import {
  SES_THRESHOLDS,
  type ReputationPolicy,
  type ReputationThresholds,
} from '../domain/reputation';
import type { SuppressionStoreOptions } from '../adapters/redis/suppressionStore';
import {
  keyBase,
  type ClusterSeed,
  type ReplicasAck,
  type RedisTarget,
} from '../adapters/redis/connection';
import { EmailAddressFromString } from '../domain/codec/scalars';
import { FAILED_VERDICT_HANDLINGS } from '../domain/forwarding/policy';
import { forwardingConfig, type ForwardingConfig } from './forwardingConfig';
import { SES_SYNC_MODES } from '../domain/sesSync';
import { s3BucketName, sesSyncConfig, type SesSyncConfig } from './sesSyncConfig';
import {
  DEFAULT_RECEIVE_WAIT_SECONDS,
  DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
} from '../domain/sesTopology';

const integer = (min: number, max: number): t.Type<number, string, unknown> =>
  new t.Type<number, string, unknown>(
    `an integer from ${min} to ${max}`,
    (u): u is number => typeof u === 'number' && Number.isInteger(u) && u >= min && u <= max,
    (u, c) => {
      const n = typeof u === 'string' && /^-?\d+$/.test(u.trim()) ? Number(u) : NaN;
      return Number.isInteger(n) && n >= min && n <= max ? t.success(n) : t.failure(u, c);
    },
    String,
  );

const boolean = new t.Type<boolean, string, unknown>(
  'true or false',
  (u): u is boolean => typeof u === 'boolean',
  (u, c) => {
    const text = typeof u === 'string' ? u.trim().toLowerCase() : '';
    if (['true', '1', 'yes', 'on'].includes(text)) return t.success(true);
    if (['false', '0', 'no', 'off'].includes(text)) return t.success(false);
    return t.failure(u, c);
  },
  String,
);

const url = (protocols: readonly string[]): t.Type<string, string, unknown> =>
  new t.Type<string, string, unknown>(
    `a ${protocols.map((p) => `${p}//`).join(' or ')} URL`,
    (u): u is string => typeof u === 'string',
    (u, c) => {
      if (typeof u !== 'string' || !URL.canParse(u)) return t.failure(u, c);
      return protocols.includes(new URL(u).protocol) ? t.success(u) : t.failure(u, c);
    },
    t.identity,
  );

const nonEmpty = new t.Type<string, string, unknown>(
  'a non-empty string',
  (u): u is string => typeof u === 'string' && u.trim() !== '',
  (u, c) => (typeof u === 'string' && u.trim() !== '' ? t.success(u.trim()) : t.failure(u, c)),
  t.identity,
);

/**
 * The base of every key. BullMQ joins prefix, queue and id with `:`. Braces are ignored (`{ses}`
 * and `ses` give the same keys): each queue and bucket brings its own hash tag
 * (adapters/bullmq/layout.ts); the prefix as written still finds what the layout before left.
 */
const bullmqPrefix = new t.Type<string, string, unknown>(
  'a key prefix without ":" (e.g. ses; braces are ignored)',
  (u): u is string => typeof u === 'string',
  (u, c) =>
    typeof u === 'string' && keyBase(u) !== '' && !u.includes(':') ? t.success(u) : t.failure(u, c),
  t.identity,
);

/** `host:port`, as in REDIS_CLUSTER_NODES's plain form and REDIS_CLUSTER_NAT_MAP. */
function hostPort(text: string): ClusterSeed | null {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text.trim());
  if (match === null) return null;
  const port = Number(match[2]);
  return port >= 1 && port <= 65535 ? { host: match[1]!.replace(/^\[|\]$/g, ''), port } : null;
}

interface ClusterNodes {
  readonly seeds: readonly ClusterSeed[];
  readonly tls: boolean;
  readonly username: string | null;
  readonly password: string | null;
}

/**
 * Seed nodes: `host:port` or `redis://` / `rediss://` URLs. Credentials and TLS are the
 * cluster's, not a node's: any URL may carry them, and all that do must agree.
 */
const clusterNodeList = new t.Type<ClusterNodes, string, unknown>(
  'comma-separated seed nodes (host:port, or redis:// or rediss:// URLs with the same scheme and credentials)',
  (u): u is ClusterNodes => typeof u === 'object' && u !== null && 'seeds' in u,
  (u, c) => {
    if (typeof u !== 'string') return t.failure(u, c);
    const seeds: ClusterSeed[] = [];
    const schemes = new Set<string>();
    const credentials = new Set<string>();
    let username: string | null = null;
    let password: string | null = null;
    for (const item of u
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')) {
      const plain = hostPort(item);
      if (plain !== null) {
        schemes.add('redis:'); // a plain seed is plain TCP: mixing it with rediss:// is refused
        seeds.push(plain);
        continue;
      }
      if (!URL.canParse(item)) return t.failure(u, c);
      const parsed = new URL(item);
      if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') return t.failure(u, c);
      if (parsed.pathname !== '' && parsed.pathname !== '/') return t.failure(u, c); // no db on a cluster
      schemes.add(parsed.protocol);
      if (parsed.username !== '' || parsed.password !== '') {
        username = parsed.username === '' ? null : decodeURIComponent(parsed.username);
        password = parsed.password === '' ? null : decodeURIComponent(parsed.password);
        credentials.add(`${parsed.username}:${parsed.password}`);
      }
      seeds.push({
        host: parsed.hostname.replace(/^\[|\]$/g, ''),
        port: parsed.port === '' ? 6379 : Number(parsed.port),
      });
    }
    if (seeds.length === 0 || schemes.size > 1 || credentials.size > 1) return t.failure(u, c);
    return t.success({ seeds, tls: schemes.has('rediss:'), username, password });
  },
  (nodes) => nodes.seeds.map((s) => `${s.host}:${s.port}`).join(','),
);

/** `announced=reachable` pairs of `host:port`, for nodes that announce addresses we cannot reach. */
const natMap = new t.Type<Record<string, ClusterSeed>, string, unknown>(
  'comma-separated announced=reachable pairs (10.0.1.5:6379=redis-0.example:6379)',
  (u): u is Record<string, ClusterSeed> => typeof u === 'object' && u !== null,
  (u, c) => {
    if (typeof u !== 'string') return t.failure(u, c);
    const map: Record<string, ClusterSeed> = {};
    for (const pair of u
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')) {
      const [from, to, ...rest] = pair.split('=');
      const announced = hostPort(from ?? '');
      const reachable = hostPort(to ?? '');
      if (rest.length > 0 || announced === null || reachable === null) return t.failure(u, c);
      map[`${announced.host}:${announced.port}`] = reachable;
    }
    return Object.keys(map).length > 0 ? t.success(map) : t.failure(u, c);
  },
  (map) =>
    Object.entries(map)
      .map(([from, to]) => `${from}=${to.host}:${to.port}`)
      .join(','),
);

const topicArnList = new t.Type<string[], string, unknown>(
  'comma-separated SNS topic ARNs (arn:aws:sns:<region>:<account>:<topic>)',
  (u): u is string[] => Array.isArray(u),
  (u, c) => {
    if (typeof u !== 'string') return t.failure(u, c);
    const arns = u
      .split(',')
      .map((arn) => arn.trim())
      .filter((arn) => arn !== '');
    return arns.length > 0 &&
      arns.every((arn) => /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$/.test(arn))
      ? t.success(arns)
      : t.failure(u, c);
  },
  (arns) => arns.join(','),
);

export const ROLES = ['ingest', 'process', 'all'] as const;
export type Role = (typeof ROLES)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const http = url(['http:', 'https:']);

/** A rate as a fraction: `0.05` is 5 %. Percent signs are refused rather than guessed at. */
const fraction = new t.Type<number, string, unknown>(
  'a fraction from 0 to 1 (0.05 = 5 %)',
  (u): u is number => typeof u === 'number' && u > 0 && u <= 1,
  (u, c) => {
    const n = typeof u === 'string' && /^\s*(0|1)?(\.\d+)?\s*$/.test(u) ? Number(u) : NaN;
    return n > 0 && n <= 1 ? t.success(n) : t.failure(u, c);
  },
  String,
);

/** Every variable, with its codec. Defaults are applied after decoding (see `loadConfig`). */
export const EnvCodec = struct({
  SQS_QUEUE_URL: optional(http),
  SQS_DLQ_URL: optional(http),
  AWS_REGION: optional(nonEmpty),
  // Read by the AWS SDK itself; decoded here only so a typo stops start-up with a clear line.
  AWS_ENDPOINT_URL: optional(http),
  AWS_ENDPOINT_URL_SQS: optional(http),
  AWS_ENDPOINT_URL_SNS: optional(http),
  AWS_ENDPOINT_URL_S3: optional(http),
  REDIS_URL: optional(url(['redis:', 'rediss:'])),
  REDIS_CLUSTER_NODES: optional(clusterNodeList),
  REDIS_CLUSTER_NAT_MAP: optional(natMap),
  REDIS_MIN_REPLICAS_ACK: optional(integer(0, 16)),
  REDIS_REPLICAS_ACK_TIMEOUT_MS: optional(integer(10, 60_000)),
  BULLMQ_PREFIX: optional(bullmqPrefix),
  HTTP_PORT: optional(integer(0, 65535)),
  // `run --embedded` only: where its SQS/SNS/S3 emulator listens.
  EMULATOR_PORT: optional(integer(0, 65535)),
  ROLE: optional(enumOf(ROLES)),
  API_TOKEN: optional(nonEmpty),
  SNS_VERIFY_SIGNATURES: optional(boolean),
  SNS_CONFIRM_SUBSCRIPTIONS: optional(boolean),
  SNS_TOPIC_ARNS: optional(topicArnList),
  LOG_LEVEL: optional(enumOf(LOG_LEVELS)),
  SQS_BATCH_SIZE: optional(integer(1, 10)),
  SQS_POLLERS: optional(integer(1, 64)),
  SQS_WAIT_TIME_SECONDS: optional(integer(0, 20)),
  SQS_VISIBILITY_TIMEOUT: optional(integer(1, 43_200)),
  SQS_HEARTBEAT_INTERVAL: optional(integer(1, 43_199)),
  JOB_ATTEMPTS: optional(integer(1, 1000)),
  JOB_BACKOFF_MS: optional(integer(1, 86_400_000)),
  JOB_CONCURRENCY: optional(integer(1, 1000)),
  JOB_LOCK_MS: optional(integer(1000, 3_600_000)),
  JOB_KEEP_COMPLETED_SECONDS: optional(integer(0, 31_536_000)),
  JOB_KEEP_FAILED_SECONDS: optional(integer(0, 31_536_000)),
  METRICS_MAX_CONFIGURATION_SETS: optional(integer(1, 10_000)),
  METRICS_DEDUPE_SECONDS: optional(integer(1, 31_536_000)),
  SHUTDOWN_TIMEOUT_MS: optional(integer(1000, 3_600_000)),
  // Inbound forwarding (worker/forwardingConfig.ts checks them together).
  FORWARD_RULES: optional(nonEmpty),
  FORWARD_FROM: optional(EmailAddressFromString),
  SMTP_URL: optional(nonEmpty),
  FORWARD_FAILED_VERDICTS: optional(enumOf(FAILED_VERDICT_HANDLINGS)),
  FORWARD_MAX_BYTES: optional(integer(1024, 1_073_741_824)),
  SUPPRESSION_TRANSIENT_THRESHOLD: optional(integer(0, 1000)),
  SUPPRESSION_TRANSIENT_WINDOW_SECONDS: optional(integer(1, 31_536_000)),
  SUPPRESSION_DEDUPE_SECONDS: optional(integer(60, 31_536_000)),
  SUPPRESSION_HISTORY_MAX: optional(integer(1, 10_000)),
  SUPPRESSION_AUDIT_MAX: optional(integer(100, 100_000_000)),
  METRICS_MAX_IDENTITIES: optional(integer(1, 10_000)),
  METRICS_MAX_TEMPLATES: optional(integer(1, 10_000)),
  REPUTATION_BOUNCE_WARN: optional(fraction),
  REPUTATION_BOUNCE_CRITICAL: optional(fraction),
  REPUTATION_COMPLAINT_WARN: optional(fraction),
  REPUTATION_COMPLAINT_CRITICAL: optional(fraction),
  REPUTATION_MIN_VOLUME: optional(integer(0, 1_000_000_000)),
  REPUTATION_EVALUATE_SECONDS: optional(integer(1, 86_400)),
  REPUTATION_WEBHOOK_URL: optional(http),
  // Pinned SNS signing certificates (docs/decoding.md, "Pinned SNS certificates").
  SNS_CERT_DIR: optional(nonEmpty),
  SNS_CERT_FETCH: optional(boolean),
  // Hardening (issue 14): outside limits.
  SMTP_CONNECTION_TIMEOUT_MS: optional(integer(100, 600_000)),
  SMTP_GREETING_TIMEOUT_MS: optional(integer(100, 600_000)),
  SMTP_SOCKET_TIMEOUT_MS: optional(integer(100, 3_600_000)),
  // Syncing with SES's account-level suppression list (worker/sesSyncConfig.ts).
  SES_SUPPRESSION_SYNC: optional(enumOf(SES_SYNC_MODES)),
  SES_SYNC_RATE_PER_SECOND: optional(integer(1, 1000)),
  SES_SYNC_PULL_INTERVAL_SECONDS: optional(integer(60, 604_800)),
  SES_SYNC_IMPORT_BUCKET: optional(s3BucketName),
  AWS_ENDPOINT_URL_SESV2: optional(http),
});

export interface WorkerConfig {
  readonly sqs: {
    /** Null: no queue configured; only `run --embedded` accepts that (it starts an emulator). */
    readonly queueUrl: string | null;
    readonly dlqUrl: string | null;
    readonly region: string | null;
    /** An AWS_ENDPOINT_URL(_SQS) is set: talk to that endpoint, not to the queue URL's host. */
    readonly customEndpoint: boolean;
    readonly batchSize: number;
    readonly pollers: number;
    readonly waitTimeSeconds: number;
    readonly visibilityTimeoutSeconds: number;
    readonly heartbeatIntervalSeconds: number;
    readonly confirmSubscriptions: boolean;
  };
  /** One server (REDIS_URL, the default) or a Redis Cluster (REDIS_CLUSTER_NODES). */
  readonly redis: RedisTarget;
  /** Before SQS messages are deleted or a suppression job completes (REDIS_MIN_REPLICAS_ACK). */
  readonly replicasAck: ReplicasAck;
  readonly bullmqPrefix: string;
  readonly jobs: {
    readonly attempts: number;
    readonly backoffMs: number;
    readonly concurrency: number;
    /** A crashed worker's active jobs are retried by another once their lock lapses. */
    readonly lockMs: number;
    readonly keepCompletedSeconds: number;
    readonly keepFailedSeconds: number;
  };
  readonly httpPort: number;
  /**
   * `run --embedded`'s emulator port: 4566, as the usual AWS emulators, so its endpoint, queue
   * URLs and topic ARN are the same on every run; 0 picks a free one.
   */
  readonly emulatorPort: number;
  readonly role: Role;
  readonly apiToken: string | null;
  readonly snsVerifySignatures: boolean;
  /** Only these topics' notifications are accepted (signed ones); null: any topic. */
  readonly snsTopicArns: readonly string[] | null;
  readonly snsCertificates: {
    /** Pinned certificates, named as their URL's last path segment; null: none. */
    readonly dir: string | null;
    /** Fetch a certificate that is not pinned; false: its message is dead-lettered. */
    readonly fetch: boolean;
  };
  readonly logLevel: LogLevel;
  readonly metricsMaxConfigurationSets: number;
  /** How long an event id is remembered so a redelivery is not counted twice. */
  readonly metricsDedupeSeconds: number;
  readonly shutdownTimeoutMs: number;
  /** Inbound forwarding; null while FORWARD_RULES is unset (received mail is only recorded). */
  readonly forwarding: ForwardingConfig | null;
  /** Sending identities (domains) with series of their own, across replicas; then `other`. */
  readonly metricsMaxIdentities: number;
  /** Rendering-failure template names with series of their own, per process; then `other`. */
  readonly metricsMaxTemplates: number;
  readonly reputation: {
    readonly policy: ReputationPolicy;
    readonly evaluateMs: number;
    /** POSTed once per state change (across replicas); null: changes are logged only. */
    readonly webhookUrl: string | null;
  };
  readonly suppression: {
    readonly policy: SuppressionPolicy;
    readonly store: SuppressionStoreOptions;
  };
  readonly sesSync: SesSyncConfig;
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_EMULATOR_PORT = 4566;
/** SHUTDOWN_TIMEOUT_MS's default: a container's grace period must exceed it (deploy/kubernetes). */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 25_000;

/** Reads the variables `EnvCodec` names; an empty value is unset. */
function relevantEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of Object.keys(EnvCodec.props)) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') picked[name] = value;
  }
  return picked;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Decodes the environment; a `ConfigError` names the variable and what it should be. */
export function loadConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  const decoded = EnvCodec.decode(relevantEnv(env));
  if (isLeft(decoded)) {
    const error = fromValidationErrors(decoded.left);
    throw new ConfigError(
      `${error.path}: expected ${error.expected}, got ${JSON.stringify(maskUrlCredentials(env[error.path] ?? ''))}`,
    );
  }
  const e = decoded.right;
  const visibilityTimeoutSeconds = e.SQS_VISIBILITY_TIMEOUT ?? DEFAULT_VISIBILITY_TIMEOUT_SECONDS;
  const heartbeatIntervalSeconds =
    e.SQS_HEARTBEAT_INTERVAL ?? Math.max(1, Math.floor(visibilityTimeoutSeconds / 3));
  if (heartbeatIntervalSeconds >= visibilityTimeoutSeconds) {
    throw new ConfigError(
      `SQS_HEARTBEAT_INTERVAL: expected fewer seconds than SQS_VISIBILITY_TIMEOUT (${visibilityTimeoutSeconds}), got ${heartbeatIntervalSeconds}`,
    );
  }
  if (e.SQS_QUEUE_URL !== undefined && e.AWS_REGION === undefined) {
    throw new ConfigError('AWS_REGION: expected the queue’s region (e.g. eu-west-1), got ""');
  }
  const redis = redisTarget(e);
  const snsCertificates = snsCertificatesConfig(e);
  const forwarding = forwardingConfig(e);
  if (isLeft(forwarding)) throw new ConfigError(forwarding.left);
  const sesSync = sesSyncConfig(e);
  if (isLeft(sesSync)) throw new ConfigError(sesSync.left);
  const replicasAck = {
    replicas: e.REDIS_MIN_REPLICAS_ACK ?? 0,
    timeoutMs: e.REDIS_REPLICAS_ACK_TIMEOUT_MS ?? 2000,
  };
  return {
    sqs: {
      queueUrl: e.SQS_QUEUE_URL ?? null,
      dlqUrl: e.SQS_DLQ_URL ?? null,
      region: e.AWS_REGION ?? null,
      customEndpoint: e.AWS_ENDPOINT_URL_SQS !== undefined || e.AWS_ENDPOINT_URL !== undefined,
      batchSize: e.SQS_BATCH_SIZE ?? 10,
      // 16: with SQS's real round trips a replica ingests 2.7–3.7× what 4 pollers do, for 48
      // idle long polls a minute (bench:pollers; docs/scaling.md says why not more).
      pollers: e.SQS_POLLERS ?? 16,
      waitTimeSeconds: e.SQS_WAIT_TIME_SECONDS ?? DEFAULT_RECEIVE_WAIT_SECONDS,
      visibilityTimeoutSeconds,
      heartbeatIntervalSeconds,
      confirmSubscriptions: e.SNS_CONFIRM_SUBSCRIPTIONS ?? false,
    },
    redis,
    replicasAck,
    bullmqPrefix: e.BULLMQ_PREFIX ?? '{ses}',
    jobs: {
      attempts: e.JOB_ATTEMPTS ?? 8,
      backoffMs: e.JOB_BACKOFF_MS ?? 2000,
      concurrency: e.JOB_CONCURRENCY ?? 16,
      lockMs: e.JOB_LOCK_MS ?? 30_000,
      keepCompletedSeconds: e.JOB_KEEP_COMPLETED_SECONDS ?? 86_400,
      keepFailedSeconds: e.JOB_KEEP_FAILED_SECONDS ?? 14 * 86_400,
    },
    httpPort: e.HTTP_PORT ?? 8080,
    emulatorPort: e.EMULATOR_PORT ?? DEFAULT_EMULATOR_PORT,
    role: e.ROLE ?? 'all',
    apiToken: e.API_TOKEN ?? null,
    snsVerifySignatures: e.SNS_VERIFY_SIGNATURES ?? true,
    snsTopicArns: e.SNS_TOPIC_ARNS ?? null,
    snsCertificates,
    logLevel: e.LOG_LEVEL ?? 'info',
    metricsMaxConfigurationSets: e.METRICS_MAX_CONFIGURATION_SETS ?? 100,
    metricsDedupeSeconds: e.METRICS_DEDUPE_SECONDS ?? 3600,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS ?? DEFAULT_SHUTDOWN_TIMEOUT_MS,
    forwarding: forwarding.right,
    suppression: {
      policy: {
        transientThreshold: e.SUPPRESSION_TRANSIENT_THRESHOLD ?? 3,
        transientWindowMs: (e.SUPPRESSION_TRANSIENT_WINDOW_SECONDS ?? 7 * 86_400) * 1000,
      },
      store: {
        dedupeSeconds: e.SUPPRESSION_DEDUPE_SECONDS ?? 30 * 86_400,
        historyPerAddress: e.SUPPRESSION_HISTORY_MAX ?? 50,
        auditMax: e.SUPPRESSION_AUDIT_MAX ?? 100_000,
        // The suppression job completes, and the API answers, once the replicas hold it.
        replicasAck,
      },
    },
    metricsMaxIdentities: e.METRICS_MAX_IDENTITIES ?? 100,
    metricsMaxTemplates: e.METRICS_MAX_TEMPLATES ?? 100,
    reputation: {
      policy: { thresholds: reputationThresholds(e), minVolume: e.REPUTATION_MIN_VOLUME ?? 100 },
      evaluateMs: (e.REPUTATION_EVALUATE_SECONDS ?? 60) * 1000,
      webhookUrl: e.REPUTATION_WEBHOOK_URL ?? null,
    },
    sesSync: sesSync.right,
  };
}

/** REDIS_URL or REDIS_CLUSTER_NODES, never both: which one was meant cannot be guessed. */
function redisTarget(e: t.TypeOf<typeof EnvCodec>): RedisTarget {
  if (e.REDIS_URL !== undefined && e.REDIS_CLUSTER_NODES !== undefined) {
    throw new ConfigError(
      'REDIS_CLUSTER_NODES: expected REDIS_URL unset when a cluster is configured, got both',
    );
  }
  if (e.REDIS_CLUSTER_NODES === undefined) {
    if (e.REDIS_CLUSTER_NAT_MAP !== undefined)
      throw new ConfigError(
        'REDIS_CLUSTER_NAT_MAP: expected REDIS_CLUSTER_NODES to be set too, got a map without a cluster',
      );
    return { kind: 'single', url: e.REDIS_URL ?? DEFAULT_REDIS_URL };
  }
  return { kind: 'cluster', ...e.REDIS_CLUSTER_NODES, natMap: e.REDIS_CLUSTER_NAT_MAP ?? null };
}

/** Where Redis is, for messages: the URL or seed list, without credentials. */
export function describeRedis(target: RedisTarget): string {
  if (target.kind === 'single') return maskUrlCredentials(target.url);
  const scheme = target.tls ? 'rediss' : 'redis';
  return `the cluster at ${target.seeds.map((s) => `${scheme}://${s.host}:${s.port}`).join(',')}`;
}

/** The directory must exist now; fetching may be off only when there is one. */
function snsCertificatesConfig(e: t.TypeOf<typeof EnvCodec>): WorkerConfig['snsCertificates'] {
  const dir = e.SNS_CERT_DIR === undefined ? null : resolve(e.SNS_CERT_DIR);
  if (dir !== null && !isDirectory(dir))
    throw new ConfigError(
      `SNS_CERT_DIR: expected a directory of SimpleNotificationService-*.pem files, got ${JSON.stringify(e.SNS_CERT_DIR)}`,
    );
  const fetch = e.SNS_CERT_FETCH ?? true;
  if (!fetch && dir === null)
    throw new ConfigError(
      'SNS_CERT_FETCH: expected true unless SNS_CERT_DIR names the pinned certificates, got "false"',
    );
  return { dir, fetch };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** SES's levels unless overridden; a warn level must stay below its critical level. */
function reputationThresholds(e: t.TypeOf<typeof EnvCodec>): ReputationThresholds {
  const thresholds = {
    bounce: {
      warn: e.REPUTATION_BOUNCE_WARN ?? SES_THRESHOLDS.bounce.warn,
      critical: e.REPUTATION_BOUNCE_CRITICAL ?? SES_THRESHOLDS.bounce.critical,
    },
    complaint: {
      warn: e.REPUTATION_COMPLAINT_WARN ?? SES_THRESHOLDS.complaint.warn,
      critical: e.REPUTATION_COMPLAINT_CRITICAL ?? SES_THRESHOLDS.complaint.critical,
    },
  };
  for (const [rate, levels] of Object.entries(thresholds)) {
    const name = `REPUTATION_${rate.toUpperCase()}`;
    if (levels.warn >= levels.critical) {
      throw new ConfigError(
        `${name}_WARN: expected less than ${name}_CRITICAL (${levels.critical}), got ${levels.warn}`,
      );
    }
  }
  return thresholds;
}

/** The configuration, or `EXIT.config` after one line on stderr saying which variable is wrong. */
export function configOrExit(
  env: NodeJS.ProcessEnv,
  io: Pick<Io, 'stderr'>,
): WorkerConfig | ExitCode {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.stderr.write(`ses-worker: configuration: ${error.message}\n`);
    return EXIT.config;
  }
}
