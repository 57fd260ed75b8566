/**
 * Builds a kustomization as `kustomize build` (and `kubectl kustomize`) would, offline and without
 * either binary, for the features deploy/kubernetes uses and no others: `resources` (YAML files,
 * or directories with a kustomization of their own) and `namespace`. Any other field, a remote or
 * glob resource, a file outside the kustomization's directory or a cycle is refused with an
 * error naming it, because resolving it here would give something other than what kustomize
 * gives. test/deploy/kubernetes.test.ts compares the result with `kubectl kustomize` where
 * kubectl is installed.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly [field: string]: unknown;
}

export class KustomizeUnsupported extends Error {
  override readonly name = 'KustomizeUnsupported';
}

/** The names kustomize looks for, in its order; a directory must hold exactly one. */
const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const UNDERSTOOD_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'namespace']);

/**
 * Kinds whose namespace kustomize's namespace transformer handles other than by setting
 * `metadata.namespace` (cluster-scoped kinds it knows, and kinds with namespaces inside them).
 * A Namespace is renamed to the namespace, as kustomize does; the rest are refused.
 */
const NAMESPACE_SPECIAL_KINDS = new Set([
  'APIService',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'MutatingWebhookConfiguration',
  'PersistentVolume',
  'PriorityClass',
  'RoleBinding',
  'StorageClass',
  'ValidatingWebhookConfiguration',
]);

export function kustomizationFile(directory: string): string {
  const found = KUSTOMIZATION_FILES.map((name) => join(directory, name)).filter((path) =>
    existsSync(path),
  );
  if (found.length !== 1)
    throw new KustomizeUnsupported(
      `${directory}: expected one of ${KUSTOMIZATION_FILES.join(', ')}, found ${found.length}`,
    );
  return found[0]!;
}

const isWithin = (parent: string, child: string): boolean => {
  const path = relative(parent, child);
  return path !== '..' && !path.startsWith(`..${sep}`);
};

/** An object with an apiVersion, a kind and a name: what kustomize needs to place a document. */
function isManifest(value: unknown): value is Manifest {
  const candidate = value as Partial<Manifest> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.apiVersion === 'string' &&
    typeof candidate.kind === 'string' &&
    typeof candidate.metadata?.name === 'string'
  );
}

/** The YAML documents of one file, each checked to be an object with kind and name. */
export function readManifests(path: string): Manifest[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).flatMap((document, index) => {
    const where = `${path}, document ${index + 1}`;
    if (document.errors.length > 0) throw new Error(`${where}: ${document.errors[0]!.message}`);
    const value = document.toJS() as unknown;
    if (value === null) return [];
    if (!isManifest(value))
      throw new Error(`${where}: expected apiVersion, kind and metadata.name`);
    return [value];
  });
}

export const manifestId = (m: Manifest): string =>
  `${m.apiVersion}/${m.kind}/${m.metadata.namespace ?? ''}/${m.metadata.name}`;

/**
 * The resources a kustomization directory builds to. `visited` are the kustomization roots being
 * built above this one: kustomize refuses a root that contains one of them (a cycle).
 */
export function buildKustomization(directory: string, visited: readonly string[] = []): Manifest[] {
  const root = resolve(directory);
  for (const above of visited)
    if (isWithin(root, above))
      throw new KustomizeUnsupported(`cycle: ${root} contains ${above}, which lists it`);
  const file = kustomizationFile(root);
  const [document, ...more] = parseAllDocuments(readFileSync(file, 'utf8'));
  if (document === undefined || more.length > 0 || document.errors.length > 0)
    throw new KustomizeUnsupported(`${file}: expected one YAML document`);
  const kustomization = document.toJS() as Record<string, unknown>;

  const unknown = Object.keys(kustomization).filter((field) => !UNDERSTOOD_FIELDS.has(field));
  if (unknown.length > 0)
    throw new KustomizeUnsupported(
      `${file}: ${unknown.join(', ')} not resolved here (only ${[...UNDERSTOOD_FIELDS].join(', ')})`,
    );
  if (
    (kustomization.apiVersion ?? 'kustomize.config.k8s.io/v1beta1') !==
      'kustomize.config.k8s.io/v1beta1' ||
    (kustomization.kind ?? 'Kustomization') !== 'Kustomization'
  )
    throw new KustomizeUnsupported(
      `${file}: expected a kustomize.config.k8s.io/v1beta1 Kustomization`,
    );

  const resources = kustomization.resources ?? [];
  if (!Array.isArray(resources)) throw new KustomizeUnsupported(`${file}: resources is not a list`);
  const manifests: Manifest[] = [];
  for (const entry of resources as unknown[]) {
    if (typeof entry !== 'string' || /^[a-z][a-z0-9+.-]*:\/\/|^git@|[*?[]/i.test(entry))
      throw new KustomizeUnsupported(
        `${file}: resource ${JSON.stringify(entry)} is not a local path`,
      );
    const path = resolve(root, entry);
    if (!existsSync(path)) throw new KustomizeUnsupported(`${file}: ${entry} does not exist`);
    if (statSync(path).isDirectory()) {
      manifests.push(...buildKustomization(path, [...visited, root]));
    } else {
      // kustomize's default load restrictor: files only from the kustomization's own tree.
      if (!isWithin(root, path))
        throw new KustomizeUnsupported(`${file}: ${entry} is outside ${root}`);
      manifests.push(...readManifests(path));
    }
  }

  const namespace = kustomization.namespace;
  if (namespace !== undefined && typeof namespace !== 'string')
    throw new KustomizeUnsupported(`${file}: namespace is not a string`);
  const built =
    namespace === undefined
      ? manifests
      : manifests.map((manifest) => inNamespace(manifest, namespace, file));
  const seen = new Set<string>();
  for (const manifest of built) {
    const id = manifestId(manifest);
    if (seen.has(id)) throw new Error(`${file}: ${id} is listed twice`);
    seen.add(id);
  }
  return built;
}

function inNamespace(manifest: Manifest, namespace: string, file: string): Manifest {
  if (manifest.kind === 'Namespace')
    return { ...manifest, metadata: { ...manifest.metadata, name: namespace } };
  if (NAMESPACE_SPECIAL_KINDS.has(manifest.kind))
    throw new KustomizeUnsupported(
      `${file}: the namespace of a ${manifest.kind} is not resolved here`,
    );
  return { ...manifest, metadata: { ...manifest.metadata, namespace } };
}
