/**
 * Type-checks manifests against the schema models' TypeScript interfaces (`IDeployment`, …).
 * The models' `validate()` checks types, formats and required fields, but their schemas accept
 * fields they do not define: a misspelt `readOnlyRootFilesytem` passes it, and an API server
 * that is not strict would drop it without a word. TypeScript's excess-property check on object
 * literals catches exactly that, at any depth.
 */
import { join } from 'node:path';
import ts from 'typescript';

export interface TypedManifest {
  readonly apiVersion: string;
  readonly kind: string;
}

/**
 * One message per error, prefixed with the manifest's position in `manifests`. `moduleOf` names
 * the models' module of an apiVersion (`kubernetes-models/apps/v1`); each kind is its file there.
 * `directory` is where the generated source pretends to live, for module resolution.
 */
export function manifestTypeErrors(
  manifests: readonly TypedManifest[],
  moduleOf: (apiVersion: string) => string,
  directory: string,
): string[] {
  const fileName = join(directory, '__manifest-types__.mts');
  // Each manifest gets an import line and a declaration; `owners` maps text offsets back to it.
  const owners: { start: number; index: number }[] = [];
  let text = '';
  manifests.forEach((manifest, index) => {
    owners.push({ start: text.length, index });
    text += `import type { I${manifest.kind} as T${index} } from '${moduleOf(manifest.apiVersion)}/${manifest.kind}';\n`;
  });
  manifests.forEach((manifest, index) => {
    owners.push({ start: text.length, index });
    text += `export const m${index}: T${index} = ${JSON.stringify(manifest, null, 2)};\n`;
  });

  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (name, languageVersion, ...rest) =>
    name === fileName
      ? ts.createSourceFile(name, text, languageVersion)
      : getSourceFile(name, languageVersion, ...rest);
  host.fileExists = (name) => name === fileName || fileExists(name);
  host.readFile = (name) => (name === fileName ? text : readFile(name));

  const program = ts.createProgram([fileName], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((diagnostic) => diagnostic.file === undefined || diagnostic.file.fileName === fileName)
    .map((diagnostic) => {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
      const start = diagnostic.start ?? -1;
      const owner = owners.filter((o) => o.start <= start).at(-1);
      const manifest = owner === undefined ? undefined : manifests[owner.index];
      return manifest === undefined
        ? message
        : `#${owner!.index} ${manifest.apiVersion} ${manifest.kind}: ${message}`;
    });
}
