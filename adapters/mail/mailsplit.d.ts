/**
 * Types for the part of mailsplit 5 that ses-worker uses (the package ships none, and there is
 * no @types package). Written from its source: lib/message-splitter.js, lib/message-joiner.js,
 * lib/mime-node.js, lib/headers.js.
 */
declare module 'mailsplit' {
  import { Transform } from 'node:stream';

  /** One header field: `key` lower-cased; `line` the whole field, folds kept, as a binary string. */
  export interface HeaderLine {
    key: string;
    line: string;
  }

  export class Headers {
    /** The fields in order (parsed on first use). */
    getList(): HeaderLine[];
    /** The raw lines of every field named `key`. */
    get(key: string): string[];
    hasHeader(key: string): boolean;
    /** Inserts a preformatted field (`Name: value`) at `index` (0 or less: first; past the end: last). */
    addFormatted(key: string, line: string, index?: number): void;
    remove(key: string): void;
    /** The header block, fields joined by `lineEnd` (CRLF), ending in an empty line. */
    build(lineEnd?: string): Buffer;
  }

  export interface MimeNode {
    readonly type: 'node';
    /** True for the message's own header block; false for parts and embedded messages. */
    readonly root: boolean;
    readonly headers: Headers;
    readonly contentType: string | false;
    readonly multipart: string | false;
    getHeaders(): Buffer;
  }

  /** Body bytes of the last node (`body`) or multipart structure between nodes (`data`). */
  export interface MimeChunk {
    readonly type: 'body' | 'data';
    readonly node: MimeNode;
    value: Buffer;
  }

  export type SplitterChunk = MimeNode | MimeChunk;

  export interface SplitterOptions {
    /** Treat message/rfc822 parts as leaves. */
    ignoreEmbedded?: boolean;
    /** Largest header block of one node, in bytes (default 1 MiB); beyond it the stream fails with EMAXLEN. */
    maxHeadSize?: number;
    /** Most nodes in one message (default 1000); beyond it the stream fails with EMAXLEN. */
    maxChildNodes?: number;
  }

  /** Bytes in, `SplitterChunk` objects out. Rejoined unmodified, the output is the input. */
  export class Splitter extends Transform {
    constructor(options?: SplitterOptions);
  }

  /** `SplitterChunk` objects in, bytes out: each node's (possibly changed) headers, then its data. */
  export class Joiner extends Transform {
    constructor();
  }
}
