/**
 * `ses-worker run`: the long-running worker. SIGTERM/SIGINT stop it gracefully within
 * SHUTDOWN_TIMEOUT_MS; a second signal, or the deadline, ends it at once.
 */
import { describeRedis } from '../config';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Logger } from 'pino';
import {
  EMULATOR_CREDENTIALS,
  startEmbeddedEmulator,
  type EmbeddedEmulator,
} from '../../adapters/emulator/embedded';
import { createSesTopology } from '../../adapters/emulator/topology';
import { DEFAULT_TOPOLOGY_NAME } from '../../domain/sesTopology';
import { makeLogger } from '../../adapters/logger';
import { HOW_TO_START_REDIS, redisUnreachable } from '../../adapters/redis/probe';
import { makeSqsClient } from '../../adapters/sqs/client';
import { configOrExit, type Role, type WorkerConfig } from '../config';
import { EXIT, type Io } from '../io';
import { startWorker, type RunningWorker } from '../main';
import { loggableError } from '../../domain/redact';

export interface RunOptions {
  readonly role?: Role;
  /** With no SQS_QUEUE_URL, start the in-process emulator and run on it. */
  readonly embedded?: boolean;
}

/** A worker running on its own or on the embedded emulator, and how to stop both. */
export interface Started {
  readonly worker: RunningWorker;
  readonly config: WorkerConfig;
  readonly log: Logger;
  readonly emulator: EmbeddedEmulator | null;
  readonly topology: {
    readonly topicArn: string;
    readonly queueUrl: string;
    readonly dlqUrl: string;
  } | null;
  stop(): Promise<void>;
}

export async function start(
  env: NodeJS.ProcessEnv,
  options: RunOptions,
  io: Io,
): Promise<Started | number> {
  const loaded = configOrExit(env, io);
  if (typeof loaded === 'number') return loaded;
  let config: WorkerConfig = loaded;
  if (options.role) config = { ...config, role: options.role };
  const log = makeLogger(config.logLevel);

  if (!(options.embedded === true && config.sqs.queueUrl === null)) {
    if (config.sqs.queueUrl === null && config.role !== 'process') {
      io.stderr.write(
        'ses-worker: configuration: SQS_QUEUE_URL: expected the queue to drain (or use `run --embedded` for a local emulator)\n',
      );
      return EXIT.config;
    }
    const worker = await startWorker({ config, log });
    return { worker, config, log, emulator: null, topology: null, stop: () => worker.stop() };
  }

  // Without Redis the worker would only hold its polling: say so at once, as a local run should.
  const unreachable = await redisUnreachable(config.redis);
  if (unreachable !== null) {
    io.stderr.write(
      `ses-worker: Redis is not reachable at ${describeRedis(config.redis)} (${unreachable}): ${HOW_TO_START_REDIS}\n`,
    );
    return EXIT.unavailable;
  }
  const emulator = await startEmbeddedEmulator();
  const clientOptions = {
    region: emulator.region,
    endpoint: emulator.endpoint,
    credentials: EMULATOR_CREDENTIALS,
  };
  const sqs = makeSqsClient({ ...clientOptions, customEndpoint: true });
  const sns = new SNSClient(clientOptions);
  const topology = await createSesTopology(sqs, sns, {
    name: DEFAULT_TOPOLOGY_NAME,
    visibilityTimeoutSeconds: config.sqs.visibilityTimeoutSeconds,
  });
  sqs.destroy();
  sns.destroy();
  log.info(
    { endpoint: emulator.endpoint, ...topology },
    'embedded SQS/SNS/S3 emulator started (in memory; SNS signatures are placeholders, so verification is off)',
  );
  config = {
    ...config,
    sqs: {
      ...config.sqs,
      queueUrl: topology.queueUrl,
      dlqUrl: topology.dlqUrl,
      region: emulator.region,
      customEndpoint: true,
    },
    snsVerifySignatures: false,
  };
  const worker = await startWorker({
    config,
    log,
    sqsEndpoint: { endpoint: emulator.endpoint, credentials: EMULATOR_CREDENTIALS },
  });
  return {
    worker,
    config,
    log,
    emulator,
    topology,
    async stop() {
      await worker.stop();
      await emulator.stop();
    },
  };
}

export async function runCommand(
  env: NodeJS.ProcessEnv,
  options: RunOptions,
  io: Io,
): Promise<number> {
  const started = await start(env, options, io);
  if (typeof started === 'number') return started;
  const { log, config } = started;

  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn(
          { signal },
          'second signal: exiting now; unfinished batches return after their visibility timeout',
        );
        resolve(EXIT.interrupted);
        return;
      }
      stopping = true;
      log.info({ signal, deadlineMs: config.shutdownTimeoutMs }, 'shutting down');
      const deadline = setTimeout(() => {
        log.error(
          { deadlineMs: config.shutdownTimeoutMs },
          'shutdown deadline passed; exiting with work unfinished (it will be redelivered)',
        );
        resolve(EXIT.interrupted);
      }, config.shutdownTimeoutMs);
      deadline.unref();
      started.stop().then(
        () => {
          clearTimeout(deadline);
          resolve(EXIT.ok);
        },
        (error: Error) => {
          clearTimeout(deadline);
          log.error({ err: loggableError(error) }, 'error while stopping');
          resolve(EXIT.software);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
