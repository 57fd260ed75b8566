/**
 * Rewrites a message's top-level header block with mailsplit, streaming: the Splitter cuts the
 * message into header blocks and body chunks, one step replaces the first (the message's own)
 * header block, and the Joiner puts the chunks back together. Body bytes, parts and their
 * headers pass through as they came — nothing is decoded or re-encoded, so signatures and
 * encodings inside the body stay intact. What the new header block holds is decided in
 * domain/forwarding/headers.ts.
 */
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Joiner, Splitter, type Headers, type SplitterChunk } from 'mailsplit';
import type { HeaderField } from '../../domain/forwarding/headers';

/** Decides the new header fields, or to stop (`abort`, with a reason) without producing output. */
export type TopHeaderRewrite<A> = (
  fields: readonly HeaderField[],
) => { readonly fields: readonly HeaderField[] } | { readonly abort: A };

export type RewriteResult<A> =
  | { readonly kind: 'rewritten'; readonly message: Buffer }
  | { readonly kind: 'aborted'; readonly reason: A };

/** The message has no MIME structure mailsplit can follow (a header block over the limit, too many parts). */
export class MalformedMessageError extends Error {
  override readonly name = 'MalformedMessageError';
}

export interface RewriteOptions {
  /** Largest header block of any one part, in bytes. */
  readonly maxHeadBytes: number;
}

export async function rewriteTopHeaders<A>(
  raw: Uint8Array,
  rewrite: TopHeaderRewrite<A>,
  options: RewriteOptions,
): Promise<RewriteResult<A>> {
  // Set by the header step, read after the pipeline: an object, so the reads are not narrowed away.
  const state: { rewritten: boolean; aborted: { readonly reason: A } | null } = {
    rewritten: false,
    aborted: null,
  };
  const headerStep = new Transform({
    objectMode: true,
    transform(chunk: SplitterChunk, _encoding: BufferEncoding, callback: TransformCallback) {
      if (chunk.type === 'node' && chunk.root && !state.rewritten) {
        state.rewritten = true;
        const decision = rewrite(chunk.headers.getList().map(({ key, line }) => ({ key, line })));
        if ('abort' in decision) {
          state.aborted = { reason: decision.abort };
          callback(new Error('rewrite aborted'));
          return;
        }
        replaceFields(chunk.headers, decision.fields);
      }
      callback(null, chunk);
    },
  });

  const output: Buffer[] = [];
  try {
    await pipeline(
      Readable.from(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)),
      new Splitter({ maxHeadSize: options.maxHeadBytes }),
      headerStep,
      new Joiner(),
      async (joined: AsyncIterable<Buffer>) => {
        for await (const chunk of joined) output.push(chunk);
      },
    );
  } catch (error) {
    if (state.aborted !== null) return { kind: 'aborted', reason: state.aborted.reason };
    if ((error as NodeJS.ErrnoException).code === 'EMAXLEN') {
      throw new MalformedMessageError((error as Error).message);
    }
    throw error;
  }
  if (!state.rewritten) throw new MalformedMessageError('the message has no header block');
  return { kind: 'rewritten', message: Buffer.concat(output) };
}

/** mailsplit has no "replace all": remove every field, then add the new ones in order. */
function replaceFields(headers: Headers, fields: readonly HeaderField[]): void {
  for (const key of new Set(headers.getList().map((line) => line.key))) headers.remove(key);
  fields.forEach((field, index) => headers.addFormatted(field.key, field.line, index));
}
