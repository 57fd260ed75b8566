/**
 * `ses-worker run`: the long-running worker. SIGTERM/SIGINT stop it gracefully within
 * SHUTDOWN_TIMEOUT_MS; a second signal, or the deadline, ends it at once.
 */
import { randomBytes } from 'node:crypto';
import { describeRedis } from '../config';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Logger } from 'pino';
import {
  EMULATOR_CREDENTIALS,
  EmulatorPortInUseError,
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
import { embeddedGuide, writeSampleBounce, type SampleFile } from './embeddedGuide';

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
  /** Embedded without API_TOKEN: the suppression API's token, made for this run; else null. */
  readonly generatedApiToken: string | null;
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
    return {
      worker,
      config,
      log,
      emulator: null,
      topology: null,
      generatedApiToken: null,
      stop: () => worker.stop(),
    };
  }

  // Without Redis the worker would only hold its polling: say so at once, as a local run should.
  const unreachable = await redisUnreachable(config.redis);
  if (unreachable !== null) {
    io.stderr.write(
      `ses-worker: Redis is not reachable at ${describeRedis(config.redis)} (${unreachable}): ${HOW_TO_START_REDIS}\n`,
    );
    return EXIT.unavailable;
  }
  let emulator: EmbeddedEmulator;
  try {
    emulator = await startEmbeddedEmulator(config.emulatorPort);
  } catch (error) {
    if (!(error instanceof EmulatorPortInUseError)) throw error;
    io.stderr.write(`ses-worker: ${portInUse('EMULATOR_PORT', error.port)}\n`);
    return EXIT.unavailable;
  }
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
    { endpoint: emulator.endpoint, region: emulator.region, ...topology },
    'embedded SQS/SNS/S3 emulator started (in memory; SNS signatures are placeholders, so verification is off)',
  );
  // The suppression API is never open: a local run without a token gets one of its own.
  const generatedApiToken = config.apiToken === null ? randomBytes(18).toString('base64url') : null;
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
    apiToken: config.apiToken ?? generatedApiToken,
  };
  let worker: RunningWorker;
  try {
    worker = await startWorker({
      config,
      log,
      sqsEndpoint: { endpoint: emulator.endpoint, credentials: EMULATOR_CREDENTIALS },
    });
  } catch (error) {
    // The emulator would keep the process alive after the error.
    await emulator.stop();
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    io.stderr.write(`ses-worker: ${portInUse('HTTP_PORT', config.httpPort)}\n`);
    return EXIT.unavailable;
  }
  return {
    worker,
    config,
    log,
    emulator,
    topology,
    generatedApiToken,
    async stop() {
      await worker.stop();
      await emulator.stop();
    },
  };
}

/** One line: which port, that another process has it, and how to pick another. */
function portInUse(variable: 'EMULATOR_PORT' | 'HTTP_PORT', port: number): string {
  const likely =
    variable === 'EMULATOR_PORT' ? 'an earlier npm start, LocalStack?' : 'an earlier npm start?';
  return `${variable} ${port} is in use: another process listens there (${likely}); stop it or choose another port, e.g. ${variable}=${port + 1} npm start (0 picks a free one)`;
}

export async function runCommand(
  env: NodeJS.ProcessEnv,
  options: RunOptions,
  io: Io,
): Promise<number> {
  const started = await start(env, options, io);
  if (typeof started === 'number') return started;
  const { log, config } = started;
  let sample: SampleFile | null = null;
  if (started.emulator !== null && started.topology !== null) {
    sample = writeSampleBounce();
    io.stdout.write(
      embeddedGuide({
        endpoint: started.emulator.endpoint,
        region: started.emulator.region,
        topicArn: started.topology.topicArn,
        queueUrl: started.topology.queueUrl,
        dlqUrl: started.topology.dlqUrl,
        statusPageUrl: `http://127.0.0.1:${started.worker.httpPort}/`,
        apiToken:
          started.generatedApiToken === null
            ? 'configured'
            : { generated: started.generatedApiToken },
        sampleBounce: sample?.path ?? null,
      }),
    );
  }

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
      sample?.remove();
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
