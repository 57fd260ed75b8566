/**
 * The documentation stays true to the repository: every relative link in README.md and docs/
 * reaches a file, every #anchor a heading GitHub will render, and docs/configuration.md names
 * exactly the variables the configuration codec reads.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { EnvCodec } from '../../worker/config';
import {
  Slugger,
  anchorsOf,
  githubSlug,
  isExternal,
  linkTargetsOf,
  parseMarkdown,
  tableRows,
  variableNames,
  type MdNode,
} from '../support/markdown';

const root = resolve(__dirname, '../..');
const docsDir = join(root, 'docs');
const markdownFiles = [
  join(root, 'README.md'),
  ...readdirSync(docsDir)
    .filter((name) => name.endsWith('.md'))
    .map((name) => join(docsDir, name)),
];

const parsed = new Map<string, Promise<MdNode>>();
function tree(file: string): Promise<MdNode> {
  let result = parsed.get(file);
  if (result === undefined) {
    result = parseMarkdown(readFileSync(file, 'utf8'));
    parsed.set(file, result);
  }
  return result;
}

const shown = (file: string) => relative(root, file);

describe('githubSlug, the anchor GitHub gives a heading', () => {
  it.each([
    ['Running the worker', 'running-the-worker'],
    ['ses-worker decode', 'ses-worker-decode'],
    ["Syncing with SES's suppression list", 'syncing-with-sess-suppression-list'],
    ["Upgrading the list's layout", 'upgrading-the-lists-layout'],
    ['Libraries, and why each is here', 'libraries-and-why-each-is-here'],
    ['Process: role, shutdown, logging', 'process-role-shutdown-logging'],
    ['Node 20 → 24', 'node-20--24'],
    ['SQS round trips and SQS_POLLERS', 'sqs-round-trips-and-sqs_pollers'],
    ['--native', '--native'],
    ['A five-minute tour', 'a-five-minute-tour'],
    ['Ünïcode Straße', 'ünïcode-straße'],
    ['😄 Smile', '-smile'],
  ])('%j → %j', (heading, slug) => {
    expect(githubSlug(heading)).toBe(slug);
  });

  it('numbers repeated headings -1, -2, skipping a number a heading already took', () => {
    const slugger = new Slugger();
    expect(['Metrics', 'Metrics', 'Metrics-1', 'Metrics'].map((h) => slugger.slug(h))).toEqual([
      'metrics',
      'metrics-1',
      'metrics-1-1',
      'metrics-2',
    ]);
  });

  it('reads a heading as rendered: inline code without backticks, link text without its URL', async () => {
    const anchors = anchorsOf(
      await parseMarkdown(
        '# `ses-worker verify-signature`\n\n## See [the API](x.md#y)\n\n<a id="kept"></a>\n',
      ),
    );
    expect([...anchors]).toEqual(['ses-worker-verify-signature', 'see-the-api', 'kept']);
  });

  it('takes no link from a code block or inline code', async () => {
    const text = '[a](a.md)\n\n```sh\n[b](b.md)\n```\n\n`[c](c.md)` [d][ref]\n\n[ref]: d.md\n';
    expect(linkTargetsOf(await parseMarkdown(text))).toEqual(['a.md', 'd.md']);
  });
});

describe.each(markdownFiles.map((file) => [shown(file), file]))('%s', (_name, file) => {
  it('links only to files that exist, inside the repository, and to anchors they have', async () => {
    const broken: string[] = [];
    for (const target of linkTargetsOf(await tree(file))) {
      if (isExternal(target)) continue;
      const [path = '', anchor] = target.split('#', 2);
      const targetFile = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
      if (targetFile !== root && !targetFile.startsWith(root + sep)) {
        broken.push(`${target}: outside the repository (GitHub cannot follow it)`);
      } else if (!existsSync(targetFile)) {
        broken.push(`${target}: no such file`);
      } else if (anchor !== undefined && targetFile.endsWith('.md')) {
        const anchors = anchorsOf(await tree(targetFile));
        if (!anchors.has(decodeURIComponent(anchor)))
          broken.push(`${target}: no heading with that anchor in ${shown(targetFile)}`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('README.md', () => {
  const readme = join(root, 'README.md');

  it('stays a five-minute read: at most 250 lines', () => {
    expect(readFileSync(readme, 'utf8').trimEnd().split('\n').length).toBeLessThanOrEqual(250);
  });

  it('links every page under docs/', async () => {
    const linked = new Set(
      linkTargetsOf(await tree(readme))
        .filter((target) => !isExternal(target))
        .map((target) => resolve(root, target.split('#')[0]!)),
    );
    const unlinked = markdownFiles.filter((file) => file !== readme && !linked.has(file));
    expect(unlinked.map(shown)).toEqual([]);
  });

  it('names in its settings table only variables the configuration reads', async () => {
    const named = tableRows(await tree(readme), 'variable').flatMap((row) =>
      variableNames(row[0]!),
    );
    expect(named.length).toBeGreaterThanOrEqual(10);
    expect(named.filter((name) => !(name in EnvCodec.props))).toEqual([]);
  });
});

describe('docs/configuration.md', () => {
  const read = Object.keys(EnvCodec.props);
  const documented = async () =>
    tableRows(await tree(join(docsDir, 'configuration.md')), 'variable').flatMap((row) =>
      variableNames(row[0]!),
    );

  it('documents every variable the configuration codec reads', async () => {
    const names = new Set(await documented());
    expect(read.filter((name) => !names.has(name))).toEqual([]);
  });

  it('documents no variable the code does not read (beyond the commented exceptions)', async () => {
    const known = new Set(read);
    expect((await documented()).filter((name) => !known.has(name))).toEqual([]);
  });

  it('documents each variable once', async () => {
    const names = await documented();
    expect(names.filter((name, i) => names.indexOf(name) !== i)).toEqual([]);
  });
});
