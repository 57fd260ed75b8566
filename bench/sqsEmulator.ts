/**
 * The SQS emulator (fauxqs) in a child process of its own, so that the bench's process holds
 * only the worker and its CPU time is the worker's. Optionally behind a proxy that holds every
 * call for `delayMs` before passing it on: real SQS answers in 10–20 ms, the emulator in a
 * fraction of one, and a replica's rate depends on how many calls it keeps in flight. The proxy
 * counts the calls by SQS action (what SQS bills), and the most held at once.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { sdkClientConfig, startEmulator, type SdkClientConfig } from '../test/support/servers';

export interface SqsEmulator {
  /** Where the worker sends its calls: the proxy when there is a delay, else fauxqs itself. */
  readonly sdk: SdkClientConfig;
  /** fauxqs without the proxy: for setting up and preloading queues at full speed. */
  readonly direct: SdkClientConfig;
  /** Calls through the proxy by action since the last reset, and the child's CPU seconds. */
  usage(reset?: boolean): Promise<EmulatorUsage>;
  stop(): Promise<void>;
}

export interface EmulatorUsage {
  readonly calls: Readonly<Record<string, number>>;
  /** The most calls the proxy held or passed on at once, and the most client connections open. */
  readonly maxInFlight: number;
  readonly maxConnections: number;
  readonly cpuSeconds: number;
}

/** What the proxy saw since the last reset. */
class Traffic {
  calls = new Map<string, number>();
  inFlight = 0;
  maxInFlight = 0;
  connections = 0;
  maxConnections = 0;

  reset(): void {
    this.calls.clear();
    this.maxInFlight = this.inFlight;
    this.maxConnections = this.connections;
  }
}

type FromChild =
  | { readonly type: 'ready'; readonly endpoint: string; readonly direct: string }
  | ({ readonly type: 'usage' } & EmulatorUsage);
type ToChild = { readonly type: 'usage'; readonly reset: boolean };

const DELAY_VARIABLE = 'BENCH_SQS_DELAY_MS';
const REGION = 'us-east-1';

/** Starts the child (this file, compiled) and waits until it serves. */
export async function startSqsEmulator(options: { delayMs: number }): Promise<SqsEmulator> {
  const child = fork(__filename, [], {
    env: { ...process.env, [DELAY_VARIABLE]: String(options.delayMs) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  const ready = await nextMessage(child, 'ready');
  // The child owns the servers: stopping is the child's end, below.
  const sdk = (endpoint: string) =>
    sdkClientConfig({ endpoint, region: REGION, stop: () => Promise.resolve() });
  return {
    sdk: sdk(ready.endpoint),
    direct: sdk(ready.direct),
    async usage(reset = false) {
      const answer = nextMessage(child, 'usage');
      child.send({ type: 'usage', reset } satisfies ToChild);
      const { calls, maxInFlight, maxConnections, cpuSeconds } = await answer;
      return { calls, maxInFlight, maxConnections, cpuSeconds };
    },
    async stop() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

function nextMessage<T extends FromChild['type']>(
  child: ChildProcess,
  type: T,
): Promise<Extract<FromChild, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromChild) => {
      if (message.type !== type) return;
      child.off('message', onMessage).off('exit', onExit);
      resolve(message as Extract<FromChild, { type: T }>);
    };
    const onExit = (code: number | null) => {
      child.off('message', onMessage);
      reject(new Error(`the SQS emulator's process ended (${code}) before answering ${type}`));
    };
    child.on('message', onMessage).once('exit', onExit);
  });
}

/** The child: fauxqs in this process, the proxy in front when a delay is asked for. */
async function serve(): Promise<void> {
  const delayMs = Number(process.env[DELAY_VARIABLE] ?? 0);
  const emulator = await startEmulator();
  const traffic = new Traffic();
  const proxy =
    delayMs > 0 ? await startDelayingProxy(new URL(emulator.endpoint), delayMs, traffic) : null;
  let cpuFrom = process.cpuUsage();
  process.on('message', (message: ToChild) => {
    if (message.type !== 'usage') return;
    const cpu = process.cpuUsage(cpuFrom);
    process.send!({
      type: 'usage',
      calls: Object.fromEntries(traffic.calls),
      maxInFlight: traffic.maxInFlight,
      maxConnections: traffic.maxConnections,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    } satisfies FromChild);
    if (message.reset) {
      traffic.reset();
      cpuFrom = process.cpuUsage();
    }
  });
  // The bench ended without stopping us: nothing else would.
  process.on('disconnect', () => process.exit(0));
  process.send!({
    type: 'ready',
    endpoint:
      proxy === null
        ? emulator.endpoint
        : `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    direct: emulator.endpoint,
  } satisfies FromChild);
}

/**
 * Holds each request for `delayMs` once it has arrived whole, then passes it on to `target` and
 * the answer back unchanged. Counts requests by the action in `x-amz-target` (the SDK's JSON
 * protocol: `AmazonSQS.ReceiveMessage`).
 */
async function startDelayingProxy(target: URL, delayMs: number, traffic: Traffic): Promise<Server> {
  // As many sockets to fauxqs as calls are held: never a queue here that SQS would not have.
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const server = createServer((incoming, answer) => {
    const action = String(incoming.headers['x-amz-target'] ?? 'other').replace(/^AmazonSQS\./, '');
    traffic.calls.set(action, (traffic.calls.get(action) ?? 0) + 1);
    traffic.maxInFlight = Math.max(traffic.maxInFlight, ++traffic.inFlight);
    answer.once('close', () => traffic.inFlight--);
    void bodyOf(incoming).then(async (body) => {
      await delay(delayMs);
      const upstream = request(
        {
          host: target.hostname,
          port: target.port,
          method: incoming.method,
          path: incoming.url,
          headers: incoming.headers,
          agent,
        },
        (response) => {
          answer.writeHead(response.statusCode ?? 502, response.headers);
          response.pipe(answer);
        },
      );
      // A long poll the client gives up (a worker stopping) ends upstream too.
      answer.once('close', () => upstream.destroy());
      upstream.once('error', (error) => {
        if (!answer.headersSent) answer.writeHead(502).end(error.message);
        else answer.destroy();
      });
      upstream.end(body);
    });
  });
  server.on('connection', (socket) => {
    traffic.maxConnections = Math.max(traffic.maxConnections, ++traffic.connections);
    socket.once('close', () => traffic.connections--);
  });
  // Longer than the SDK keeps an idle socket: a reused socket is never closed under a request.
  server.keepAliveTimeout = 120_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

async function bodyOf(incoming: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of incoming) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

if (require.main === module) {
  serve().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
