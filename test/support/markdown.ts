/**
 * What the documentation test needs from a Markdown file: its headings' GitHub anchors, its
 * links, and its tables. Parsed with prettier's own Markdown parser (remark, an mdast tree), so
 * code blocks and inline code are never mistaken for links.
 */
import type { ParserOptions } from 'prettier';
import { parsers } from 'prettier/plugins/markdown';

/** The parts of an mdast node read here. */
export interface MdNode {
  readonly type: string;
  readonly value?: string;
  readonly url?: string;
  readonly depth?: number;
  readonly children?: readonly MdNode[];
}

export async function parseMarkdown(text: string): Promise<MdNode> {
  // The parser reads no option that matters for the tree; prettier passes its resolved options.
  return (await parsers.markdown.parse(text, {} as ParserOptions)) as MdNode;
}

function* walk(node: MdNode): Generator<MdNode> {
  yield node;
  for (const child of node.children ?? []) yield* walk(child);
}

/** The text a node renders as: what GitHub makes a heading's anchor from. */
export function plainText(node: MdNode): string {
  if (node.type === 'text' || node.type === 'inlineCode') return node.value ?? '';
  return (node.children ?? []).map(plainText).join('');
}

/**
 * GitHub's heading anchor (the rule of github-slugger, which github.com follows): lower-case,
 * drop every character that is not a letter, a mark, a number, a connector (`_`), `-` or a
 * space, then turn each space into `-` (two spaces give two dashes).
 */
export function githubSlug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** One file's anchors, in order: a repeated slug gets `-1`, `-2`, … as GitHub numbers them. */
export class Slugger {
  private readonly seen = new Set<string>();

  slug(text: string): string {
    const base = githubSlug(text);
    let candidate = base;
    for (let n = 1; this.seen.has(candidate); n++) candidate = `${base}-${n}`;
    this.seen.add(candidate);
    return candidate;
  }
}

/** Every anchor a link may name: the headings', and `id`/`name` attributes in raw HTML. */
export function anchorsOf(root: MdNode): Set<string> {
  const slugger = new Slugger();
  const anchors = new Set<string>();
  for (const node of walk(root)) {
    if (node.type === 'heading') anchors.add(slugger.slug(plainText(node)));
    if (node.type === 'html')
      for (const match of (node.value ?? '').matchAll(/\b(?:id|name)="([^"]+)"/g))
        anchors.add(match[1]!);
  }
  return anchors;
}

/** Link, image and reference-definition targets, as written. */
export function linkTargetsOf(root: MdNode): string[] {
  const targets: string[] = [];
  for (const node of walk(root))
    if (
      (node.type === 'link' || node.type === 'image' || node.type === 'definition') &&
      node.url !== undefined
    )
      targets.push(node.url);
  return targets;
}

/** A target with a scheme (`https:`, `mailto:`) or a host (`//…`): not a file here. */
export function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');
}

/** The rows of every table whose header's first cell is `header`, as text cells (header left out). */
export function tableRows(root: MdNode, header: string): MdNode[][] {
  const rows: MdNode[][] = [];
  for (const node of walk(root)) {
    if (node.type !== 'table') continue;
    const [head, ...body] = node.children ?? [];
    const firstCell = head?.children?.[0];
    if (firstCell === undefined || plainText(firstCell).trim() !== header) continue;
    for (const row of body) rows.push([...(row.children ?? [])]);
  }
  return rows;
}

/** The environment variable names written as inline code in a cell (`SQS_QUEUE_URL`). */
export function variableNames(cell: MdNode): string[] {
  return [...walk(cell)]
    .filter((node) => node.type === 'inlineCode' && /^[A-Z][A-Z0-9_]*$/.test(node.value ?? ''))
    .map((node) => node.value!);
}
