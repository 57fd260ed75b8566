/**
 * deploy/kubernetes, offline: the kustomizations resolve (and, where kubectl is installed, as
 * `kubectl kustomize` resolves them); every document passes its schema model (Kubernetes, KEDA,
 * prometheus-operator) and has no field its model lacks; and the documents agree with each
 * other and with the worker: selectors and pod labels, ports and probes, the routes the HTTP
 * server registers, the configuration codec, the shutdown timeout, the secrets and the metrics.
 */
import { spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseAllDocuments, parseDocument } from 'yaml';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment' with {
  'resolution-mode': 'import',
};
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget' with {
  'resolution-mode': 'import',
};
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy' with {
  'resolution-mode': 'import',
};
import type { IContainer } from 'kubernetes-models/v1/Container' with {
  'resolution-mode': 'import',
};
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap' with {
  'resolution-mode': 'import',
};
import type { INamespace } from 'kubernetes-models/v1/Namespace' with {
  'resolution-mode': 'import',
};
import type { IService } from 'kubernetes-models/v1/Service' with { 'resolution-mode': 'import' };
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount' with {
  'resolution-mode': 'import',
};
import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject' with {
  'resolution-mode': 'import',
};
import type { ITriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication' with {
  'resolution-mode': 'import',
};
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule' with {
  'resolution-mode': 'import',
};
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor' with {
  'resolution-mode': 'import',
};
import { startHttpServer, type HttpServer } from '../../adapters/http/server';
import { makeMetrics } from '../../adapters/metrics/registry';
import { makeSesSyncMetrics } from '../../adapters/metrics/sesSync';
import { JOB_STATES, SQS_QUEUE_ROLES } from '../../adapters/metrics/queueGauges';
import { QUEUE_NAMES } from '../../domain/jobs';
import { SES_SYNC_QUEUE } from '../../worker/sesSync';
import {
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  EnvCodec,
  loadConfig,
  type WorkerConfig,
} from '../../worker/config';
import {
  KustomizeUnsupported,
  buildKustomization,
  kustomizationFile,
  manifestId,
  type Manifest,
} from '../support/kustomize';
import { manifestTypeErrors } from '../support/manifestTypes';

const REPO_ROOT = join(__dirname, '..', '..');
const KUBERNETES = join(REPO_ROOT, 'deploy', 'kubernetes');
const readRepoFile = (path: string): string => readFileSync(join(REPO_ROOT, path), 'utf8');

/** What a user applies: the default layout (ROLE=all) and the split one. */
const LAYOUTS = [
  { layout: 'deploy/kubernetes', directory: KUBERNETES },
  { layout: 'overlays/split', directory: join(KUBERNETES, 'overlays', 'split') },
].map((entry) => ({ ...entry, manifests: buildKustomization(entry.directory) }));

// ---- schema models ----

/** The models' package of an API group: Kubernetes' own groups, then the CRDs' packages. */
function modelModule(apiVersion: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const crdPackages: Record<string, string> = {
    'keda.sh': '@kubernetes-models/keda',
    'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
  };
  const builtIn = group === '' || !group!.includes('.') || group!.endsWith('.k8s.io');
  const packageName = builtIn ? 'kubernetes-models' : crdPackages[group!];
  if (packageName === undefined || version === undefined)
    throw new Error(`no schema models for ${apiVersion}`);
  return `${packageName}/${apiVersion}`;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
  readonly apiVersion: string;
  readonly kind: string;
}

/** The model class of a document's apiVersion and kind; unknown ones throw. */
async function modelOf(manifest: Manifest): Promise<ModelClass> {
  let exported: Record<string, unknown>;
  try {
    exported = (await import(modelModule(manifest.apiVersion))) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${manifest.apiVersion} ${manifest.kind}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const model = exported[manifest.kind] as ModelClass | undefined;
  if (model?.apiVersion !== manifest.apiVersion || model.kind !== manifest.kind)
    throw new Error(`no schema model for ${manifest.apiVersion} ${manifest.kind}`);
  return model;
}

// ---- the worker: its routes, metrics and configuration ----

/** The worker's HTTP server with no feature routes; `ready` is what its readiness reports. */
let server: HttpServer;
let ready = true;
beforeAll(async () => {
  server = await startHttpServer({
    port: 0,
    host: '127.0.0.1',
    registry: makeMetrics().registry,
    readiness: () => Promise.resolve({ ready, checks: {} }),
  });
});
afterAll(() => server.close());

async function statusOf(path: string, readiness: boolean): Promise<number> {
  ready = readiness;
  return (await fetch(`http://127.0.0.1:${server.port}${path}`)).status;
}

const registry = makeMetrics().registry;
makeSesSyncMetrics(registry, {
  pending: () => Promise.resolve(0),
  watermark: () => Promise.resolve(null),
});

/**
 * The label values the queue gauges take, from the code that sets them: the rules may only
 * select values the worker can report.
 */
const GAUGE_LABEL_VALUES: Record<string, Record<string, readonly string[]>> = {
  ses_worker_sqs_queue_messages: { queue: SQS_QUEUE_ROLES, state: ['visible', 'in_flight'] },
  ses_worker_jobs: { queue: [...QUEUE_NAMES, SES_SYNC_QUEUE], state: JOB_STATES },
};

/** Labels Prometheus Operator gives every series scraped through a ServiceMonitor. */
const TARGET_LABELS = ['namespace', 'service', 'pod', 'container', 'endpoint', 'job', 'instance'];
const HISTOGRAM_SERIES = /_(bucket|sum|count)$/;

interface KnownMetric {
  readonly labels: readonly string[];
  /** Allowed values per label, where known (the queue gauges). */
  readonly values?: Record<string, readonly string[]>;
}

/** A series name the worker exports (or Prometheus adds: `up`), with its labels; else null. */
function knownMetric(series: string): KnownMetric | null {
  if (series === 'up') return { labels: TARGET_LABELS };
  for (const name of [series, series.replace(HISTOGRAM_SERIES, '')]) {
    const metric = registry.getSingleMetric(name) as { labelNames?: readonly string[] } | undefined;
    if (metric !== undefined) {
      const labels = [...(metric.labelNames ?? []), ...TARGET_LABELS];
      if (name !== series && series.endsWith('_bucket')) labels.push('le');
      return { labels, values: GAUGE_LABEL_VALUES[name] };
    }
  }
  return null;
}

interface Selector {
  readonly metric: string;
  readonly matchers: readonly { label: string; op: string; value: string }[];
}

const PROMQL_KEYWORDS = new Set(['bool', 'and', 'or', 'unless', 'offset']);

/**
 * The series selectors and grouping labels of a PromQL expression. Enough PromQL for these
 * rules: selectors with double-quoted matchers, functions, aggregations with by/without,
 * vector matching, ranges and numbers; anything it cannot read throws.
 */
function readPromql(expr: string): { selectors: Selector[]; grouping: string[] } {
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  let rest = expr.replace(
    /([A-Za-z_:][\w:]*)?\s*\{([^}]*)\}/g,
    (_match, metric: string | undefined, body: string) => {
      if (metric === undefined) throw new Error(`${expr}: a selector without a metric name`);
      const matchers = body
        .split(',')
        .map((text) => text.trim())
        .filter((text) => text !== '')
        .map((text) => {
          const parts = /^([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"$/.exec(text);
          if (parts === null) throw new Error(`${expr}: cannot read the matcher ${text}`);
          return { label: parts[1]!, op: parts[2]!, value: parts[3]! };
        });
      selectors.push({ metric, matchers });
      return ' ';
    },
  );
  rest = rest.replace(
    /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g,
    (_match, labels: string) => {
      grouping.push(...labels.split(',').map((label) => label.trim()));
      return ' ';
    },
  );
  rest = rest.replace(/\[[^\]]*\]/g, ' ');
  for (const word of rest.matchAll(/[A-Za-z_:][\w:]*/g)) {
    const after = rest.slice(word.index + word[0].length);
    const before = rest[word.index - 1] ?? ' ';
    if (/^\s*\(/.test(after) || PROMQL_KEYWORDS.has(word[0]) || /[\d.]/.test(before)) continue;
    selectors.push({ metric: word[0], matchers: [] });
  }
  return { selectors, grouping: grouping.filter((label) => label !== '') };
}

/** What is wrong with an expression's metrics and labels; empty when nothing is. */
function promqlProblems(expr: string): string[] {
  const { selectors, grouping } = readPromql(expr);
  if (selectors.length === 0) return [`${expr}: no metric`];
  const problems: string[] = [];
  const labels = new Set<string>();
  for (const { metric, matchers } of selectors) {
    const known = knownMetric(metric);
    if (known === null) {
      problems.push(`${metric}: not a metric the worker exports`);
      continue;
    }
    known.labels.forEach((label) => labels.add(label));
    for (const { label, op, value } of matchers) {
      if (!known.labels.includes(label)) problems.push(`${metric}: no label ${label}`);
      const values = known.values?.[label];
      if (values !== undefined && op === '=' && !values.includes(value))
        problems.push(`${metric}: ${label}="${value}" is none of ${values.join(', ')}`);
    }
  }
  for (const label of grouping)
    if (!labels.has(label)) problems.push(`${expr}: groups by ${label}, which no metric has`);
  return problems;
}

/** Placeholder secrets, as the two `kubectl create secret` variants of the docs hold them. */
const SECRET_VARIANTS: readonly Record<string, string>[] = [
  {
    API_TOKEN: 'a-token-for-the-test',
    REDIS_URL: 'rediss://ses-worker:password@master.cache.example:6379',
    SMTP_URL: 'smtps://user:password@email-smtp.eu-west-1.amazonaws.com:465',
    REPUTATION_WEBHOOK_URL: 'https://hooks.example/T000/B000/secret',
  },
  {
    API_TOKEN: 'a-token-for-the-test',
    REDIS_CLUSTER_NODES: 'rediss://ses-worker:password@clustercfg.cache.example:6379',
  },
];

/** Variables that hold a credential: only ever from a Secret. */
const CREDENTIAL_VARIABLES = [
  'API_TOKEN',
  'REDIS_URL',
  'REDIS_CLUSTER_NODES',
  'SMTP_URL',
  'REPUTATION_WEBHOOK_URL',
];

/** A URL with a user or password in it (`scheme://user:password@host`). */
const hasUserinfo = (value: string): boolean => /\/\/[^/@\s]*:[^/@\s]*@/.test(value);

// ---- the manifests, typed ----

type Deployment = IDeployment & Manifest;
type Container = IContainer;

const ofKind = <T>(manifests: readonly Manifest[], kind: string): (T & Manifest)[] =>
  manifests.filter((m) => m.kind === kind) as (T & Manifest)[];

const podLabels = (deployment: Deployment): Record<string, string> =>
  deployment.spec?.template.metadata?.labels ?? {};

const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([key, value]) => labels[key] === value);

const workerContainer = (deployment: Deployment): Container => {
  const containers = deployment.spec?.template.spec?.containers ?? [];
  expect(containers).toHaveLength(1);
  return containers[0]!;
};

interface SecretKeyRef {
  readonly name: string;
  readonly key: string;
  readonly optional: boolean;
}

/** A container's environment: plain values (ConfigMaps, then `env`) and Secret references. */
function environmentOf(container: Container, manifests: readonly Manifest[]) {
  const values = new Map<string, string>();
  const secrets = new Map<string, SecretKeyRef>();
  const configMap = (name: string): Record<string, string> => {
    const found = ofKind<IConfigMap>(manifests, 'ConfigMap').find((c) => c.metadata.name === name);
    if (found === undefined) throw new Error(`ConfigMap ${name} is not in the build`);
    return found.data ?? {};
  };
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef === undefined) throw new Error('envFrom other than a ConfigMap');
    Object.entries(configMap(source.configMapRef.name!)).forEach(([k, v]) => values.set(k, v));
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (from === undefined) values.set(variable.name, variable.value ?? '');
    else if (from.secretKeyRef !== undefined) {
      values.delete(variable.name);
      secrets.set(variable.name, {
        name: from.secretKeyRef.name!,
        key: from.secretKeyRef.key,
        optional: from.secretKeyRef.optional === true,
      });
    } else if (from.configMapKeyRef !== undefined) {
      const value = configMap(from.configMapKeyRef.name!)[from.configMapKeyRef.key];
      if (value !== undefined) values.set(variable.name, value);
    } else throw new Error(`${variable.name}: a valueFrom this test does not resolve`);
  }
  return { values, secrets };
}

/** The configuration a container's environment gives with one of the secret variants. */
function configWith(
  environment: ReturnType<typeof environmentOf>,
  secret: Record<string, string>,
): WorkerConfig {
  const env: Record<string, string> = Object.fromEntries(environment.values);
  for (const [name, ref] of environment.secrets) {
    const value = secret[ref.key];
    if (value !== undefined) env[name] = value;
    else if (!ref.optional) throw new Error(`${name}: the Secret has no ${ref.key}`);
  }
  return loadConfig(env);
}

const portNamed = (container: Container, port: number | string | undefined) =>
  (container.ports ?? []).find((p) => p.name === port || p.containerPort === port);

/** `kubectl create secret generic NAME --from-file=KEY=…` commands in a Markdown file. */
function secretCommands(markdown: string): { name: string; keys: string[] }[] {
  const commands = markdown.replace(/\\\n\s*/g, ' ').split('\n');
  return commands.flatMap((line) => {
    const name = /\bcreate secret generic ([\w.-]+)/.exec(line)?.[1];
    if (name === undefined) return [];
    const keys = [...line.matchAll(/--from-(?:file|literal)=([A-Z0-9_]+)=/g)].map((m) => m[1]!);
    return [{ name, keys }];
  });
}

// ---- the tests ----

describe('deploy/kubernetes files', () => {
  it('lists every manifest in a kustomization, and only manifests that exist', () => {
    const files = (readdirSync(KUBERNETES, { recursive: true }) as string[])
      .filter((file) => /\.ya?ml$/.test(file))
      .map((file) => join(KUBERNETES, file));
    const kustomizations = files.filter((file) => /kustomization\.ya?ml$/.test(file));
    const listed = kustomizations.flatMap((file) => {
      const { resources = [] } = parseDocument(readFileSync(file, 'utf8')).toJS() as {
        resources?: string[];
      };
      return resources.map((entry) => resolve(dirname(file), entry));
    });
    const manifests = files.filter((file) => !kustomizations.includes(file));
    expect(manifests.length).toBeGreaterThan(10);
    for (const manifest of manifests) expect(listed).toContain(manifest);
    for (const directory of listed.filter((path) => !/\.ya?ml$/.test(path)))
      expect(kustomizationFile(directory)).toBeTruthy();
  });

  describe('the offline kustomize refuses what it does not resolve', () => {
    let scratch: string;
    beforeEach(() => {
      scratch = mkdtempSync(join(tmpdir(), 'kustomize-'));
      writeFileSync(
        join(scratch, 'config.yaml'),
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n',
      );
    });
    afterEach(() => rmSync(scratch, { recursive: true, force: true }));
    const kustomization = (directory: string, text: string) => {
      mkdirSync(directory, { recursive: true });
      writeFileSync(join(directory, 'kustomization.yaml'), text);
    };

    it.each([
      ['a field it does not apply', 'resources: [config.yaml]\npatches: []\n', /patches/],
      ['labels', 'resources: [config.yaml]\nlabels: [{pairs: {a: b}}]\n', /labels/],
      ['a remote resource', 'resources: [https://example.com/x]\n', /not a local path/],
      ['a glob', 'resources: ["*.yaml"]\n', /not a local path/],
      ['a missing file', 'resources: [absent.yaml]\n', /does not exist/],
    ])('%s', (_what, text, message) => {
      kustomization(scratch, text);
      expect(() => buildKustomization(scratch)).toThrow(KustomizeUnsupported);
      expect(() => buildKustomization(scratch)).toThrow(message);
    });

    it('a file outside its directory, and a cycle', () => {
      kustomization(join(scratch, 'a'), 'resources: [../config.yaml]\n');
      expect(() => buildKustomization(join(scratch, 'a'))).toThrow(/outside/);
      kustomization(scratch, 'resources: [config.yaml]\n');
      kustomization(join(scratch, 'b'), 'resources: [..]\n');
      expect(() => buildKustomization(join(scratch, 'b'))).toThrow(/cycle/);
    });

    it('sets the namespace, and names a Namespace after it', () => {
      writeFileSync(
        join(scratch, 'ns.yaml'),
        'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n',
      );
      kustomization(scratch, 'namespace: here\nresources: [config.yaml, ns.yaml]\n');
      expect(buildKustomization(scratch).map(manifestId).sort()).toEqual([
        'v1/ConfigMap/here/c',
        'v1/Namespace//here',
      ]);
    });
  });
});

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
const hasKubectl = kubectl.error === undefined && kubectl.status === 0;

(hasKubectl ? it : it.skip)(
  'the docs’ example overlay builds, with every value it sets',
  async () => {
    const markdown = readRepoFile('docs/deploy-kubernetes.md');
    const example = /```yaml\n([\s\S]*?)```/.exec(markdown)?.[1];
    expect(example).toContain('../ses-worker/deploy/kubernetes');
    const scratch = mkdtempSync(join(tmpdir(), 'overlay-'));
    try {
      // The example sits beside a checkout named ses-worker.
      symlinkSync(REPO_ROOT, join(scratch, 'ses-worker'));
      mkdirSync(join(scratch, 'mine'));
      writeFileSync(join(scratch, 'mine', 'kustomization.yaml'), example!);
      const built = spawnSync('kubectl', ['kustomize', join(scratch, 'mine')], {
        encoding: 'utf8',
      });
      expect(built.stderr).toBe('');
      const manifests = parseAllDocuments(built.stdout).map((d) => d.toJS() as Manifest);
      for (const manifest of manifests) {
        const Model = await modelOf(manifest);
        expect(() => new Model(manifest).validate()).not.toThrow();
      }
      const text = built.stdout;
      expect(text).not.toContain('111122223333');
      expect(text).not.toContain('eu-west-1');
      expect(text).toContain(
        'image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/ses-worker:0.1.0',
      );
      expect(text).toContain('JOB_KEEP_COMPLETED_SECONDS'); // merged into, not replaced
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  },
);

describe.each(LAYOUTS)('$layout', ({ directory, manifests }) => {
  const deployments = ofKind<IDeployment>(manifests, 'Deployment');
  const services = ofKind<IService>(manifests, 'Service');
  const scaledObjects = ofKind<IScaledObject>(manifests, 'ScaledObject');
  const configMaps = ofKind<IConfigMap>(manifests, 'ConfigMap');
  const namespaces = ofKind<INamespace>(manifests, 'Namespace');
  const namespace = manifests.find((m) => m.kind !== 'Namespace')?.metadata.namespace;

  (hasKubectl ? it : it.skip)('resolves as `kubectl kustomize` does', () => {
    const built = spawnSync('kubectl', ['kustomize', directory], { encoding: 'utf8' });
    expect(built.stderr).toBe('');
    expect(built.status).toBe(0);
    const theirs = parseAllDocuments(built.stdout).map((d) => d.toJS() as Manifest);
    const byId = (list: readonly Manifest[]) =>
      [...list].sort((a, b) => manifestId(a).localeCompare(manifestId(b)));
    expect(byId(manifests)).toEqual(byId(theirs));
  });

  it('validates every document against its schema model', async () => {
    expect(manifests.length).toBeGreaterThan(10);
    for (const manifest of manifests) {
      const Model = await modelOf(manifest);
      expect(() => new Model(manifest).validate()).not.toThrow();
    }
  });

  it('puts everything in one namespace, which enforces the restricted pod security profile', () => {
    expect(namespace).toBeDefined();
    for (const m of manifests.filter((m) => m.kind !== 'Namespace'))
      expect([manifestId(m), m.metadata.namespace]).toEqual([manifestId(m), namespace]);
    expect(namespaces.map((n) => n.metadata.name)).toEqual([namespace]);
    expect(namespaces[0]!.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe(
      'restricted',
    );
  });

  describe.each(deployments.map((d) => ({ name: d.metadata.name, deployment: d })))(
    'Deployment $name',
    ({ deployment }) => {
      const container = workerContainer(deployment);
      const pod = deployment.spec!.template.spec!;
      const environment = environmentOf(container, manifests);
      // Decoded inside each test, so that a bad value fails that test rather than the suite.
      const configs = () => SECRET_VARIANTS.map((secret) => configWith(environment, secret));

      it('selects its own pods', () => {
        expect(selects(deployment.spec!.selector.matchLabels, podLabels(deployment))).toBe(true);
        for (const constraint of pod.topologySpreadConstraints ?? [])
          expect(constraint.labelSelector?.matchLabels).toEqual(
            deployment.spec!.selector.matchLabels,
          );
      });

      it('sets only variables the configuration codec knows, and they decode', () => {
        const known = Object.keys(EnvCodec.props);
        for (const name of [...environment.values.keys(), ...environment.secrets.keys()])
          expect({ name, known: known.includes(name) }).toEqual({ name, known: true });
        // Both variants: one Redis server, or a cluster.
        expect(configs().map((c) => c.redis.kind)).toEqual(['single', 'cluster']);
      });

      it('runs the role its component label names', () => {
        const role = podLabels(deployment)['app.kubernetes.io/component'];
        for (const config of configs()) expect(config.role).toBe(role);
      });

      it('serves HTTP on the port it declares, the one the Dockerfile exposes', () => {
        const exposed = /^EXPOSE\s+(\d+)/m.exec(readRepoFile('Dockerfile'))?.[1];
        const http = portNamed(container, 'http');
        expect(http?.containerPort).toBe(Number(exposed));
        for (const config of configs()) expect(config.httpPort).toBe(http?.containerPort);
      });

      it('probes liveness on a route that answers whatever Redis does, readiness on one that follows it', async () => {
        const liveness = container.livenessProbe?.httpGet;
        const readiness = container.readinessProbe?.httpGet;
        expect(liveness?.path).toBe('/healthz');
        expect(readiness?.path).toBe('/readyz');
        for (const probe of [liveness!, readiness!])
          expect(portNamed(container, probe.port)).toBeDefined();
        expect(await statusOf(liveness!.path!, false)).toBe(200);
        expect(await statusOf(readiness!.path!, true)).toBe(200);
        expect(await statusOf(readiness!.path!, false)).toBe(503);
        expect(await statusOf('/no-such-route', true)).toBe(404);
      });

      it('gives the worker longer to stop than its shutdown timeout, with margin', () => {
        const graceMs = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
        const MARGIN_MS = 5000;
        expect(graceMs).toBeGreaterThanOrEqual(DEFAULT_SHUTDOWN_TIMEOUT_MS + MARGIN_MS);
        for (const config of configs())
          expect(graceMs).toBeGreaterThanOrEqual(config.shutdownTimeoutMs + MARGIN_MS);
      });

      it('runs as the image’s node user, non-root, read-only, unprivileged, seccomp-confined', () => {
        // The official node images create the user `node` with uid and gid 1000.
        expect(/^USER\s+node\s*$/m.test(readRepoFile('Dockerfile'))).toBe(true);
        expect(pod.securityContext).toMatchObject({
          runAsNonRoot: true,
          runAsUser: 1000,
          runAsGroup: 1000,
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(container.securityContext).toEqual({
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(pod.volumes ?? []).toEqual([]);
        expect(pod.hostNetwork ?? false).toBe(false);
      });

      it('requests and limits CPU and memory, and leaves the replica count to KEDA', () => {
        const { requests = {}, limits = {} } = container.resources ?? {};
        for (const resource of ['cpu', 'memory']) {
          expect(requests[resource]).toBeDefined();
          expect(limits[resource]).toBeDefined();
        }
        expect(deployment.spec!.replicas).toBeUndefined();
      });

      it('runs the image of this version, under a service account ready for IRSA', () => {
        const { version } = JSON.parse(readRepoFile('package.json')) as { version: string };
        expect(container.image).toBe(`ses-worker:${version}`);
        const account = ofKind<IServiceAccount>(manifests, 'ServiceAccount').find(
          (a) => a.metadata.name === pod.serviceAccountName,
        );
        expect(account?.metadata.annotations?.['eks.amazonaws.com/role-arn']).toMatch(
          /^arn:aws:iam::\d{12}:role\//,
        );
        expect(pod.automountServiceAccountToken).toBe(false);
      });

      it('takes every credential from the Secret, never from a value', () => {
        for (const name of CREDENTIAL_VARIABLES)
          expect({ name, plain: environment.values.has(name) }).toEqual({ name, plain: false });
        for (const name of ['API_TOKEN', 'REDIS_URL'])
          expect(environment.secrets.get(name)?.key).toBe(name);
        expect(environment.secrets.get('API_TOKEN')?.optional).toBe(false);
        for (const [name, value] of environment.values)
          expect({ name, credentials: hasUserinfo(value) }).toEqual({ name, credentials: false });
      });
    },
  );

  it('keeps credentials out of every ConfigMap', () => {
    expect(configMaps.length).toBeGreaterThan(0);
    for (const configMap of configMaps)
      for (const [name, value] of Object.entries(configMap.data ?? {}))
        expect({
          name,
          credential: CREDENTIAL_VARIABLES.includes(name) || hasUserinfo(value),
        }).toEqual({
          name,
          credential: false,
        });
  });

  it('has no Secret among its documents, and the docs create the one the pods read', () => {
    expect(ofKind(manifests, 'Secret')).toEqual([]);
    const commands = secretCommands(readRepoFile('docs/deploy-kubernetes.md'));
    expect(commands.length).toBeGreaterThan(0);
    const refs = deployments.flatMap((d) => [
      ...environmentOf(workerContainer(d), manifests).secrets.values(),
    ]);
    const documented = new Set(commands.flatMap((c) => c.keys));
    for (const ref of refs) {
      expect(commands.map((c) => c.name)).toContain(ref.name);
      expect({ key: ref.key, documented: documented.has(ref.key) }).toEqual({
        key: ref.key,
        documented: true,
      });
      if (!ref.optional) for (const command of commands) expect(command.keys).toContain(ref.key);
    }
    for (const key of documented) expect(refs.map((r) => r.key)).toContain(key);
  });

  it('serves every pod behind the Service, on the port the containers name', () => {
    expect(services).toHaveLength(1);
    const service = services[0]!;
    for (const deployment of deployments) {
      expect(selects(service.spec?.selector, podLabels(deployment))).toBe(true);
      for (const port of service.spec?.ports ?? [])
        expect(portNamed(workerContainer(deployment), port.targetPort)).toBeDefined();
    }
  });

  it('scrapes /metrics through the Service’s port with the ServiceMonitor', async () => {
    const [monitor, ...more] = ofKind<IServiceMonitor>(manifests, 'ServiceMonitor');
    expect(more).toEqual([]);
    const service = services[0]!;
    expect(selects(monitor!.spec.selector.matchLabels, service.metadata.labels ?? {})).toBe(true);
    for (const endpoint of monitor!.spec.endpoints ?? []) {
      expect((service.spec?.ports ?? []).map((p) => p.name)).toContain(endpoint.port);
      expect(await statusOf(endpoint.path ?? '/metrics', true)).toBe(200);
    }
  });

  it('keeps each Deployment in service through disruptions with a PodDisruptionBudget', () => {
    const budgets = ofKind<IPodDisruptionBudget>(manifests, 'PodDisruptionBudget');
    for (const deployment of deployments) {
      const own = budgets.filter((b) =>
        selects(b.spec?.selector?.matchLabels, podLabels(deployment)),
      );
      expect(own).toHaveLength(1);
      const scaled = scaledObjects.find(
        (s) => s.spec.scaleTargetRef.name === deployment.metadata.name,
      );
      // One replica at least stays up at the minimum count.
      expect(
        scaled!.spec.minReplicaCount! - Number(own[0]!.spec?.maxUnavailable),
      ).toBeGreaterThanOrEqual(1);
    }
    expect(budgets).toHaveLength(deployments.length);
  });

  it('lets the NetworkPolicy cover every pod and open only the HTTP port to them', () => {
    const [policy, ...more] = ofKind<INetworkPolicy>(manifests, 'NetworkPolicy');
    expect(more).toEqual([]);
    expect(policy!.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
    for (const deployment of deployments) {
      expect(selects(policy!.spec?.podSelector?.matchLabels, podLabels(deployment))).toBe(true);
      for (const rule of policy!.spec?.ingress ?? []) {
        expect(rule.ports?.length).toBeGreaterThan(0);
        for (const port of rule.ports ?? [])
          expect(portNamed(workerContainer(deployment), port.port)?.name).toBe('http');
      }
    }
    const egressPorts = (policy!.spec?.egress ?? []).flatMap((rule) =>
      (rule.ports ?? []).map((p) => p.port),
    );
    for (const port of [53, 6379, 443]) expect(egressPorts).toContain(port);
  });

  describe('autoscaling', () => {
    const configMap = configMaps.find((c) => c.metadata.name === 'ses-worker-config')!.data!;

    it('scales each Deployment with one ScaledObject, within sane bounds', () => {
      for (const deployment of deployments)
        expect(
          scaledObjects.filter((s) => s.spec.scaleTargetRef.name === deployment.metadata.name),
        ).toHaveLength(1);
      for (const scaled of scaledObjects) {
        expect(scaled.spec.scaleTargetRef.kind ?? 'Deployment').toBe('Deployment');
        expect(deployments.map((d) => d.metadata.name)).toContain(scaled.spec.scaleTargetRef.name);
        expect(scaled.spec.minReplicaCount).toBeGreaterThanOrEqual(2);
        expect(scaled.spec.maxReplicaCount).toBeGreaterThanOrEqual(scaled.spec.minReplicaCount!);
      }
    });

    it('scales what reads SQS on the worker’s own queue, with KEDA’s AWS pod identity', () => {
      for (const deployment of deployments) {
        const role = podLabels(deployment)['app.kubernetes.io/component'];
        const scaled = scaledObjects.find(
          (s) => s.spec.scaleTargetRef.name === deployment.metadata.name,
        )!;
        const types = scaled.spec.triggers.map((t) => t.type);
        expect(types).toEqual([role === 'process' ? 'prometheus' : 'aws-sqs-queue']);
      }
      const authentications = ofKind<ITriggerAuthentication>(manifests, 'TriggerAuthentication');
      for (const trigger of scaledObjects.flatMap((s) => s.spec.triggers)) {
        if (trigger.type !== 'aws-sqs-queue') continue;
        expect(trigger.metadata.queueURL).toBe(configMap.SQS_QUEUE_URL);
        expect(trigger.metadata.awsRegion).toBe(configMap.AWS_REGION);
        expect(trigger.metadata.queueLength).toMatch(/^[1-9]\d*$/);
        const authentication = authentications.find(
          (a) => a.metadata.name === trigger.authenticationRef?.name,
        );
        expect(authentication?.spec?.podIdentity?.provider).toBe('aws');
      }
    });

    it('scales the processors on the jobs waiting, in this namespace', () => {
      for (const trigger of scaledObjects.flatMap((s) => s.spec.triggers)) {
        if (trigger.type !== 'prometheus') continue;
        const query = trigger.metadata.query!;
        expect(promqlProblems(query)).toEqual([]);
        const [selector] = readPromql(query).selectors;
        expect(selector?.metric).toBe('ses_worker_jobs');
        expect(selector?.matchers).toEqual(
          expect.arrayContaining([
            { label: 'namespace', op: '=', value: namespace },
            { label: 'state', op: '=', value: 'waiting' },
          ]),
        );
        expect(trigger.metadata.threshold).toMatch(/^[1-9]\d*$/);
      }
    });
  });

  describe('PrometheusRule', () => {
    const rules = ofKind<IPrometheusRule>(manifests, 'PrometheusRule').flatMap((r) =>
      (r.spec.groups ?? []).flatMap((g) => g.rules ?? []),
    );
    const alerts = rules.map((rule) => ({ alert: rule.alert!, rule }));

    it.each(alerts)('$alert queries only what the worker exports', ({ rule }) => {
      expect(promqlProblems(String(rule.expr))).toEqual([]);
    });

    it.each(alerts)('$alert has a severity and a summary', ({ rule }) => {
      expect(['warning', 'critical']).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary).toBeTruthy();
    });

    it('alerts on reputation, dead letters, failed jobs and replicas not ready or gone', () => {
      const used = (metric: string, label?: string, value?: string) =>
        rules.some((rule) =>
          readPromql(String(rule.expr)).selectors.some(
            (s) =>
              s.metric === metric &&
              (label === undefined ||
                s.matchers.some((m) => m.label === label && m.value === value)),
          ),
        );
      expect(used('ses_reputation_state')).toBe(true);
      expect(rules.map((r) => String(r.expr))).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/ses_reputation_state\)? == 1$/),
          expect.stringMatching(/ses_reputation_state\)? == 2$/),
        ]),
      );
      expect(used('ses_worker_sqs_queue_messages', 'queue', 'dlq')).toBe(true);
      expect(used('ses_worker_jobs', 'state', 'failed')).toBe(true);
      expect(used('ses_worker_ready')).toBe(true);
      expect(used('up')).toBe(true);
    });

    it('names the scrape job as the ServiceMonitor makes it: the Service’s name', () => {
      const jobs = rules.flatMap((rule) =>
        readPromql(String(rule.expr)).selectors.flatMap((s) =>
          s.matchers.filter((m) => m.label === 'job').map((m) => m.value),
        ),
      );
      expect(jobs.length).toBeGreaterThan(0);
      for (const job of jobs) expect(job).toBe(services[0]!.metadata.name);
    });
  });
});

describe('the schema checks themselves', () => {
  const all = new Map<string, Manifest>();
  for (const { manifests } of LAYOUTS)
    for (const manifest of manifests) all.set(JSON.stringify(manifest), manifest);
  const distinct = [...all.values()];

  it('type-check every document against its model’s interface: no field the model lacks', () => {
    const deployment = distinct.find((m) => m.kind === 'Deployment') as Deployment;
    // A control: the same Deployment with one field misspelt must be the only error.
    const misspelt = JSON.parse(
      JSON.stringify(deployment).replace('"readOnlyRootFilesystem"', '"readOnlyRootFilesytem"'),
    ) as Manifest;
    const errors = manifestTypeErrors([...distinct, misspelt], modelModule, __dirname);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      new RegExp(`^#${distinct.length} apps/v1 Deployment: .*readOnlyRootFilesytem`),
    );
  });

  it('validate() refuses a wrong type, and an unknown kind has no model', async () => {
    const deployment = distinct.find((m) => m.kind === 'Deployment')!;
    const Model = await modelOf(deployment);
    const broken = JSON.parse(
      JSON.stringify(deployment).replace('"containerPort":8080', '"containerPort":"http"'),
    ) as Manifest;
    expect(() => new Model(broken).validate()).toThrow(/containerPort/);
    await expect(
      modelOf({ apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledThing', metadata: { name: 'x' } }),
    ).rejects.toThrow(/no schema model/);
    await expect(
      modelOf({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'x' } }),
    ).rejects.toThrow(/no schema models/);
  });

  it('reads PromQL metrics and labels, and finds a name or label that is not there', () => {
    expect(
      readPromql('sum(max by (queue) (ses_worker_jobs{state="waiting"}[5m] offset 1m)) > 0'),
    ).toEqual({
      selectors: [
        { metric: 'ses_worker_jobs', matchers: [{ label: 'state', op: '=', value: 'waiting' }] },
      ],
      grouping: ['queue'],
    });
    expect(
      readPromql('absent(up) or ses_worker_ready == 0').selectors.map((s) => s.metric),
    ).toEqual(['up', 'ses_worker_ready']);
    expect(promqlProblems('ses_worker_nope > 0')).toEqual([
      'ses_worker_nope: not a metric the worker exports',
    ]);
    expect(promqlProblems('ses_worker_jobs{state="waitng"}')).toHaveLength(1);
    expect(promqlProblems('max by (colour) (ses_worker_ready)')).toHaveLength(1);
    expect(promqlProblems('ses_delivery_processing_seconds_bucket{le="1"}')).toEqual([]);
  });
});
