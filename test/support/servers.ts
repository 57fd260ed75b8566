/**
 * Real servers for the integration tests: Redis, and fauxqs (the SQS/SNS/S3 emulator).
 *
 * With a Docker engine they run as containers (testcontainers); without one, Redis runs as a
 * local `redis-server` process and fauxqs in-process. `startEmulatorProcess()` always runs fauxqs
 * as a child process, so a chaos suite can kill and restart it. SES_WORKER_TEST_SERVERS=local or
 * =containers forces the path. No server ever listens on 6379: that port is the shared Redis's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import vm from 'node:vm';
import {
  GenericContainer,
  Wait,
  getContainerRuntimeClient,
  type StartedTestContainer,
} from 'testcontainers';
// Types only: fauxqs is ESM-only and is loaded by importFauxqs().
import type * as Fauxqs from 'fauxqs' with { 'resolution-mode': 'import' };

export type ServerPath = 'containers' | 'local';

export interface RedisServer {
  url: string;
  host: string;
  port: number;
  /** Ends the server for good and deletes its files. */
  stop(): Promise<void>;
  /** Ends the server abruptly (SIGKILL, or a container stop without grace), keeping its port. */
  kill(): Promise<void>;
  /** Starts it again on the same host:port, with its data if `appendOnly` was on. */
  restart(): Promise<void>;
}

export interface EmulatorServer {
  endpoint: string;
  region: string;
  stop(): Promise<void>;
  kill?(): Promise<void>;
  /** Same endpoint, empty state: fauxqs keeps nothing across restarts. */
  restart?(): Promise<void>;
}

export type RestartableEmulator = Required<EmulatorServer>;

export interface SdkClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** S3 only (the SQS and SNS clients ignore it): bucket in the path, not in the host name. */
  forcePathStyle: true;
}

const SHARED_REDIS_PORT = 6379;
const LOCALHOST = '127.0.0.1';
const REGION = 'us-east-1';
const REDIS_IMAGE = 'redis:7-alpine';
const REDIS_PORT = 6379; // inside the container
const FAUXQS_IMAGE = 'kibertoad/fauxqs:2.4.1';
const FAUXQS_PORT = 4566; // inside the container
const DOCKER_PROBE_TIMEOUT_MS = 1_500;
// Polled, so a quick start returns at once. A cold fauxqs start took 13–15 s on the shared 2-core
// machine under load (Node 20 with fauxqs 1.9 and Node 24 with 2.4 alike); 5 s failed the suites.
const READY_TIMEOUT_MS = 30_000;
const PROBE_TIMEOUT_MS = 500;
const POLL_INTERVAL_MS = 25;
const OUTPUT_TAIL_CHARS = 4_000;

/**
 * Jest gives each test file its own copy of `process`, whose 'exit' event never fires: the
 * cleanup hook must go on the real one, which a script run in the main context sees.
 */
const realProcess = vm.runInThisContext('process') as NodeJS.Process;

// ---------------------------------------------------------------------------------------------
// Which path

let dockerAnswer: Promise<boolean> | undefined;

/**
 * Whether integration servers run in Docker: true only when a Docker engine answers (asked once
 * per module instance, i.e. once per jest test file). SES_WORKER_TEST_SERVERS forces the answer;
 * forced to `containers` without an engine, starting a server fails with testcontainers' error.
 */
export async function dockerAvailable(): Promise<boolean> {
  const forced = forcedServerPath();
  if (forced !== undefined) return forced === 'containers';
  dockerAnswer ??= dockerEngineAnswers();
  return await dockerAnswer;
}

export async function serverPath(): Promise<ServerPath> {
  return (await dockerAvailable()) ? 'containers' : 'local';
}

function forcedServerPath(): ServerPath | undefined {
  const value = process.env.SES_WORKER_TEST_SERVERS;
  if (value === undefined || value === '') return undefined;
  if (value === 'local' || value === 'containers') return value;
  throw new Error(
    `SES_WORKER_TEST_SERVERS must be "local" or "containers", not ${JSON.stringify(value)}`,
  );
}

async function dockerEngineAnswers(): Promise<boolean> {
  // A DOCKER_HOST nobody answers on can hang; a missing socket fails at once.
  const giveUp = delay(DOCKER_PROBE_TIMEOUT_MS, false, { ref: false });
  try {
    return await Promise.race([getContainerRuntimeClient().then(() => true), giveUp]);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Redis

export async function startRedis(options: { appendOnly?: boolean } = {}): Promise<RedisServer> {
  const appendOnly = options.appendOnly ?? false;
  return (await dockerAvailable())
    ? await startRedisContainer(appendOnly)
    : await startLocalRedis(appendOnly);
}

/** `--save ""`: no RDB snapshots; appendfsync always: a SIGKILL loses nothing acknowledged. */
function redisPersistenceArgs(appendOnly: boolean): string[] {
  const aof = appendOnly
    ? ['--appendonly', 'yes', '--appendfsync', 'always']
    : ['--appendonly', 'no'];
  return ['--save', '', ...aof];
}

async function startRedisContainer(appendOnly: boolean): Promise<RedisServer> {
  const container = new GenericContainer(REDIS_IMAGE)
    .withCommand(['redis-server', ...redisPersistenceArgs(appendOnly)])
    .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'));
  const started = await startContainer(container, REDIS_PORT);
  return { url: `redis://${started.host}:${started.port}`, ...started };
}

async function startLocalRedis(appendOnly: boolean): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ses-worker-redis-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  const launch = () => launchLocalRedis(port, dir, appendOnly);
  let redis = await launch().catch((error: unknown) => {
    removeDir();
    throw error;
  });
  // Nor may the directory outlive a suite that forgets stop(): kill first, then delete.
  const cleanUpAtExit = () => {
    redis.killNow();
    removeDir();
  };
  realProcess.once('exit', cleanUpAtExit);
  return {
    url: `redis://${LOCALHOST}:${port}`,
    host: LOCALHOST,
    port,
    kill: () => redis.kill(),
    async restart() {
      await redis.kill();
      redis = await launch();
    },
    async stop() {
      await redis.kill();
      realProcess.off('exit', cleanUpAtExit);
      removeDir();
    },
  };
}

async function launchLocalRedis(
  port: number,
  dir: string,
  appendOnly: boolean,
): Promise<ManagedProcess> {
  const args = ['--port', String(port), '--bind', LOCALHOST, '--dir', dir, '--daemonize', 'no'];
  const redis = new ManagedProcess('redis-server', [...args, ...redisPersistenceArgs(appendOnly)], {
    notFound: 'redis-server not found: apt-get install -y redis-server',
  });
  await redis.waitUntilReady(`redis-server on port ${port}`, () => answersPing(LOCALHOST, port));
  return redis;
}

/** A raw PING: "+PONG" only once Redis serves commands ("-LOADING" while it replays its AOF). */
export function answersPing(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const answer = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => answer(false));
    socket.once('error', () => answer(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => answer(data.toString().startsWith('+PONG')));
  });
}

// ---------------------------------------------------------------------------------------------
// fauxqs

/** Containers: kibertoad/fauxqs (restartable). Local: in-process fauxqs (no kill/restart). */
export async function startEmulator(): Promise<EmulatorServer> {
  return (await dockerAvailable())
    ? await startEmulatorContainer()
    : await startEmulatorInProcess();
}

/** fauxqs's CLI as a child process on a port of its own: kill() and restart() keep the endpoint. */
export async function startEmulatorProcess(): Promise<RestartableEmulator> {
  const port = await freePort();
  const endpoint = `http://${LOCALHOST}:${port}`;
  const launch = () => launchFauxqsProcess(port, endpoint);
  let fauxqs = await launch();
  return {
    endpoint,
    region: REGION,
    kill: () => fauxqs.kill(),
    async restart() {
      await fauxqs.kill();
      fauxqs = await launch();
    },
    stop: () => fauxqs.kill(),
  };
}

export function sdkClientConfig(emulator: EmulatorServer): SdkClientConfig {
  return {
    // fauxqs's queue URLs name http://sqs.<region>.localhost:<port>, which does not resolve
    // here; with an explicit endpoint the SQS client sends every request to it instead.
    endpoint: emulator.endpoint,
    region: emulator.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    forcePathStyle: true,
  };
}

/** Whether the emulator's GET /health answers 200 now. */
export function emulatorAnswers(emulator: Pick<EmulatorServer, 'endpoint'>): Promise<boolean> {
  return answersHealth(`${emulator.endpoint}/health`);
}

async function startEmulatorContainer(): Promise<EmulatorServer> {
  const container = new GenericContainer(FAUXQS_IMAGE).withWaitStrategy(
    Wait.forHttp('/health', FAUXQS_PORT),
  );
  const { host, port, ...lifecycle } = await startContainer(container, FAUXQS_PORT);
  return { endpoint: `http://${host}:${port}`, region: REGION, ...lifecycle };
}

async function startEmulatorInProcess(): Promise<EmulatorServer> {
  const { startFauxqs } = await importFauxqs();
  const server = await startFauxqs({ port: 0, logger: false });
  let stopped: Promise<void> | undefined;
  return { endpoint: server.address, region: REGION, stop: () => (stopped ??= server.stop()) };
}

/**
 * fauxqs is ESM-only. Under jest, `import()` becomes jest's `require`, which cannot load it
 * ("Cannot find module 'fauxqs'"): ask Node's own ESM loader, which a script compiled in the
 * main context can reach (Node prints an ExperimentalWarning for that option, once).
 */
function importFauxqs(): Promise<typeof Fauxqs> {
  const nativeImport = vm.runInThisContext('(specifier) => import(specifier)', {
    filename: __filename,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  }) as (specifier: string) => Promise<typeof Fauxqs>;
  return nativeImport('fauxqs');
}

async function launchFauxqsProcess(port: number, endpoint: string): Promise<ManagedProcess> {
  const fauxqs = new ManagedProcess(process.execPath, [fauxqsCliPath()], {
    // The CLI passes `logger: true` itself, so it logs every request whatever FAUXQS_LOGGER says.
    env: { ...process.env, FAUXQS_PORT: String(port), FAUXQS_LOGGER: 'false' },
  });
  await fauxqs.waitUntilReady(`fauxqs on ${endpoint}`, () => answersHealth(`${endpoint}/health`));
  return fauxqs;
}

/** The file fauxqs's package.json `bin` names (its `exports` hide package.json from resolve). */
function fauxqsCliPath(): string {
  const packageDir = (require.resolve.paths('fauxqs') ?? [])
    .map((nodeModules) => join(nodeModules, 'fauxqs'))
    .find((dir) => existsSync(join(dir, 'package.json')));
  if (packageDir === undefined) throw new Error('fauxqs is not installed: npm ci');
  const { bin } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    bin?: string | Record<string, string>;
  };
  const cli = typeof bin === 'string' ? bin : bin?.fauxqs;
  if (cli === undefined) throw new Error(`${packageDir}/package.json names no fauxqs bin`);
  return join(packageDir, cli);
}

function answersHealth(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    // agent: false, so no kept-alive socket outlives the probe.
    const request = httpGet(url, { agent: false, timeout: PROBE_TIMEOUT_MS }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.once('timeout', () => request.destroy());
    request.once('error', () => resolve(false));
  });
}

// ---------------------------------------------------------------------------------------------
// Containers

interface StartedServer {
  host: string;
  port: number;
  stop(): Promise<void>;
  kill(): Promise<void>;
  restart(): Promise<void>;
}

async function startContainer(
  container: GenericContainer,
  containerPort: number,
): Promise<StartedServer> {
  // A fixed host port rather than a random one, so that restart() comes back where clients look.
  const port = await freePort();
  const started = await container
    .withExposedPorts({ container: containerPort, host: port })
    .start();
  return {
    host: started.getHost(),
    port,
    kill: () => stopKeepingContainer(started),
    // `docker restart` starts a stopped container, then the wait strategy runs again.
    restart: () => started.restart({ timeout: 0 }),
    async stop() {
      await started.stop({ timeout: 0, remove: true });
    },
  };
}

/** started.stop() would remember the container as stopped and make the final stop() a no-op. */
async function stopKeepingContainer(started: StartedTestContainer): Promise<void> {
  const client = await getContainerRuntimeClient();
  await client.container.stop(client.container.getById(started.getId()), { timeout: 0 });
}

// ---------------------------------------------------------------------------------------------
// Local processes

/** A child process that keeps the tail of its output for error messages and dies with us. */
export class ManagedProcess {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private outputTail = '';
  private endedBecause: string | undefined;

  constructor(
    private readonly command: string,
    args: string[],
    private readonly options: { env?: NodeJS.ProcessEnv; notFound?: string } = {},
  ) {
    this.child = spawn(command, args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const killWithUs = () => this.killNow();
    realProcess.once('exit', killWithUs);
    this.exited = new Promise<void>((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.ended(`exited with ${signal ?? code}`);
        resolve();
      });
      this.child.once('error', (error) => {
        this.ended(this.describeSpawnError(error));
        resolve();
      });
    }).then(() => {
      realProcess.off('exit', killWithUs);
    });
    // Unreferenced, so that a suite which forgets stop() does not keep jest waiting for ever:
    // the exit hook kills the child instead.
    this.child.unref();
    for (const stream of [this.child.stdout, this.child.stderr] as (Socket | null)[]) {
      stream?.on('data', (chunk: Buffer) => this.keepOutput(chunk.toString()));
      stream?.unref();
    }
  }

  /** Polls `ready` until it says yes; fails at once, with the output, if the process ends. */
  async waitUntilReady(what: string, ready: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (this.endedBecause !== undefined) throw this.failure(`${what}: ${this.endedBecause}`);
      if (await ready()) return;
      if (Date.now() > deadline) {
        await this.kill();
        throw this.failure(`${what} did not answer within ${READY_TIMEOUT_MS} ms`);
      }
      await delay(POLL_INTERVAL_MS);
    }
  }

  /** SIGKILL, then wait until it is gone. Does nothing if it already is. */
  async kill(): Promise<void> {
    this.killNow();
    await this.exited;
  }

  /** SIGKILL without waiting: all an 'exit' handler can do. */
  killNow(): void {
    if (this.endedBecause === undefined) this.child.kill('SIGKILL');
  }

  private ended(reason: string): void {
    this.endedBecause ??= reason;
  }

  private describeSpawnError(error: NodeJS.ErrnoException): string {
    if (error.code === 'ENOENT') return this.options.notFound ?? `${this.command} not found`;
    return `could not start ${this.command}: ${error.message}`;
  }

  private keepOutput(text: string): void {
    this.outputTail = (this.outputTail + text).slice(-OUTPUT_TAIL_CHARS);
  }

  private failure(message: string): Error {
    const output = this.outputTail.trim();
    return new Error(output === '' ? message : `${message}\n--- output ---\n${output}`);
  }
}

/** A port the OS just handed out, so free; never the shared Redis's. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    if (port !== SHARED_REDIS_PORT) return port;
  }
}
