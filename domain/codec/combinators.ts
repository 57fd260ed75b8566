/**
 * io-ts combinators for reading JSON that arrives from outside.
 *
 * Why not `t.type`/`t.partial`: `t.type` copies its input with `Object.assign` when an optional
 * key is absent, so a JSON `"__proto__"` key becomes the copy's prototype and fields the
 * message never had read back as present (see test/unit/codec/combinators.test.ts). `struct`
 * reads own properties only, builds a fresh object holding just the declared keys (unknown
 * fields SES adds later are dropped, not rejected) and marks optional keys explicitly.
 */
import * as t from 'io-ts';
import { isWellFormedText } from '../unicode';

const hasOwn = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

export const isPlainObject = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === 'object' && u !== null && !Array.isArray(u);

/**
 * Codecs whose output is their input once `is` accepts it (strings, enums, literals). Structs,
 * arrays and records take such values straight after `is`, skipping io-ts's per-field context
 * allocation: validation costs a fifth less (bench:decode ratio 0.49 without this, 0.54 with).
 */
const passThrough = new WeakSet<t.Mixed>();
const markPassThrough = <C extends t.Mixed>(codec: C): C => {
  passThrough.add(codec);
  return codec;
};
const passesUnchanged = (codec: t.Mixed): boolean =>
  codec instanceof t.StringType ||
  codec instanceof t.BooleanType ||
  codec instanceof t.LiteralType ||
  passThrough.has(codec) ||
  (codec instanceof OptionalType && passesUnchanged(codec.inner as t.Mixed));

/**
 * Every string a struct, array or record yields — a field's value, an item, a map's key — must be
 * well-formed Unicode (`isWellFormedText`), whatever the field's codec: checked here, once, so
 * no field can forget it. The failure names the path and reads "expected well-formed Unicode
 * text" (reason `invalid`).
 */
export const WellFormedText = new t.Type<string, string, unknown>(
  'well-formed Unicode text',
  (u): u is string => typeof u === 'string' && isWellFormedText(u),
  (u, c) => (typeof u === 'string' && isWellFormedText(u) ? t.success(u) : t.failure(u, c)),
  t.identity,
);

/**
 * Codecs whose `validate` ignores its context on success and, on failure, only appends entries
 * to it (io-ts's own scalars, ours below). A struct, array or record validates such a field
 * against its own context and adds the field's entry only to the errors (`withEntry`): the
 * context array io-ts would copy for every field of every message is then built only for
 * failures. `jsonFromString` rewrites its context's last entry, so it is never one of them.
 */
const contextFree = new WeakSet<t.Mixed>();
export const markContextFree = <C extends t.Mixed>(codec: C): C => {
  contextFree.add(codec);
  return codec;
};
const ignoresContext = (codec: t.Mixed): boolean =>
  codec instanceof t.StringType ||
  codec instanceof t.BooleanType ||
  codec instanceof t.NumberType ||
  codec instanceof t.LiteralType ||
  codec instanceof StructType ||
  codec instanceof ArrayOfType ||
  contextFree.has(codec) ||
  (codec instanceof OptionalType && ignoresContext(codec.inner as t.Mixed));

/** `errors` from validating against `c`, as if validated against `c` + `{ key, codec, value }`. */
const withEntry = (
  errors: t.Errors,
  c: t.Context,
  key: string | number,
  codec: t.Mixed,
  value: unknown,
): t.ValidationError[] => {
  const entry: t.ContextEntry = { key: String(key), type: codec, actual: value };
  return errors.map((error) => ({
    ...error,
    context: [...c, entry, ...error.context.slice(c.length)],
  }));
};

/**
 * `codec.validate` of a field, item or map value at `key` under `c`, run by `validator`: the
 * codec itself, or the inner codec of an `OptionalType` once its value is known to be present.
 */
const validateAt = (
  codec: t.Mixed,
  validator: t.Mixed,
  contextFreeCodec: boolean,
  value: unknown,
  c: t.Context,
  key: string | number,
): t.Validation<unknown> => {
  if (!contextFreeCodec)
    return validator.validate(value, t.appendContext(c, String(key), codec, value));
  const result = validator.validate(value, c);
  return result._tag === 'Left' ? t.failures(withEntry(result.left, c, key, codec, value)) : result;
};

const illFormed = (value: unknown): boolean =>
  typeof value === 'string' && !isWellFormedText(value);

const illFormedFailure = (value: unknown, c: t.Context, key: string): t.ValidationError => ({
  value,
  context: t.appendContext(c, key, WellFormedText, value),
});

/**
 * Marks a struct field that may be absent (or `undefined`); with `nullMeansAbsent`, JSON `null`
 * reads as absent too and the field is left out of the result.
 */
export class OptionalType<C extends t.Mixed> extends t.Type<
  t.TypeOf<C> | undefined,
  unknown,
  unknown
> {
  readonly _tag = 'OptionalType' as const;
  constructor(
    readonly inner: C,
    readonly nullMeansAbsent = false,
  ) {
    super(
      inner.name,
      // `null` is not accepted here, so `struct` takes it through `validate` and drops it.
      (u): u is t.TypeOf<C> | undefined => u === undefined || inner.is(u),
      (u, c) =>
        u === undefined || (nullMeansAbsent && u === null)
          ? t.success(undefined)
          : inner.validate(u, c),
      t.identity,
    );
  }
}

/** A field that may be absent. `null` is an error: for fields whose value decides behaviour. */
export const optional = <C extends t.Mixed>(codec: C): OptionalType<C> => new OptionalType(codec);

/**
 * An optional descriptive field where SES may send `null` for "none" (a click on an untagged
 * link has `"linkTags": null`): `null` means the same as absent. docs/decoding.md, "Choices where
 * the formats are loose", lists each such field with the captured message that shows it.
 */
export const optionalOrNull = <C extends t.Mixed>(codec: C): OptionalType<C> =>
  new OptionalType(codec, true);

/** A value that may be JSON `null` (SNS sends `"Subject": null`, SES `"complaintSubType": null`). */
export const nullable = <C extends t.Mixed>(codec: C): t.Type<t.TypeOf<C> | null, unknown> => {
  const type = new t.Type<t.TypeOf<C> | null, unknown>(
    codec.name,
    (u): u is t.TypeOf<C> | null => u === null || codec.is(u),
    (u, c) => (u === null ? t.success(null) : codec.validate(u, c)),
    t.identity,
  );
  if (passesUnchanged(codec)) markPassThrough(type);
  return ignoresContext(codec) ? markContextFree(type) : type;
};

type Props = Readonly<Record<string, t.Mixed>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type RequiredKeys<P extends Props> = {
  [K in keyof P]: P[K] extends OptionalType<t.Mixed> ? never : K;
}[keyof P];
type OptionalKeys<P extends Props> = Exclude<keyof P, RequiredKeys<P>>;

export type StructOf<P extends Props> = Simplify<
  { readonly [K in RequiredKeys<P>]: t.TypeOf<P[K]> } & {
    readonly [K in OptionalKeys<P>]?: t.TypeOf<P[K]>;
  }
>;

export class StructType<P extends Props> extends t.Type<StructOf<P>, unknown, unknown> {
  readonly _tag = 'StructType' as const;
  constructor(readonly props: P) {
    const fields = Object.keys(props).map((key) => {
      const codec = props[key] as t.Mixed;
      return {
        key,
        codec,
        isOptional: codec instanceof OptionalType,
        nullMeansAbsent: codec instanceof OptionalType && codec.nullMeansAbsent,
        // Plain text, by far the commonest field: tested inline rather than through `codec.is`.
        isText:
          codec instanceof t.StringType ||
          (codec instanceof OptionalType && codec.inner instanceof t.StringType),
        fast: passesUnchanged(codec),
        free: ignoresContext(codec),
        // A present value of an optional field goes straight to the inner codec.
        validator: codec instanceof OptionalType ? (codec.inner as t.Mixed) : codec,
      };
    });
    super(
      'object',
      (u): u is StructOf<P> =>
        isPlainObject(u) &&
        fields.every(({ key, codec, isOptional }) =>
          hasOwn(u, key) ? codec.is(u[key]) : isOptional,
        ),
      (u, c) => {
        if (!isPlainObject(u)) return t.failure(u, c);
        const out: Record<string, unknown> = {};
        let errors: t.ValidationError[] | undefined;
        for (const field of fields) {
          const { key, codec } = field;
          const value = hasOwn(u, key) ? u[key] : undefined;
          if (value === undefined ? field.isOptional : value === null && field.nullMeansAbsent)
            continue;
          if (field.isText ? typeof value === 'string' : field.fast && codec.is(value)) {
            if (illFormed(value)) (errors ??= []).push(illFormedFailure(value, c, key));
            else out[key] = value;
            continue;
          }
          const result = validateAt(codec, field.validator, field.free, value, c, key);
          if (result._tag === 'Left') {
            errors = errors === undefined ? [...result.left] : errors.concat(result.left);
          } else if (illFormed(result.right)) {
            (errors ??= []).push(illFormedFailure(result.right, c, key));
          } else if (result.right !== undefined) {
            out[key] = result.right;
          }
        }
        return errors === undefined ? t.success(out as StructOf<P>) : t.failures(errors);
      },
      t.identity,
    );
  }
}

/** A JSON object with the given fields; unknown fields are ignored and not copied. */
export const struct = <P extends Props>(props: P): StructType<P> => new StructType(props);

/** A JSON array; named plainly so errors read "expected array". */
export class ArrayOfType<C extends t.Mixed> extends t.Type<t.TypeOf<C>[], unknown, unknown> {
  readonly _tag = 'ArrayOfType' as const;
  constructor(readonly item: C) {
    const fast = passesUnchanged(item);
    const free = ignoresContext(item);
    const is = (u: unknown): u is t.TypeOf<C>[] => Array.isArray(u) && u.every((v) => item.is(v));
    const itemIsText = item instanceof t.StringType;
    const allPassUnchanged = (u: readonly unknown[]): boolean => {
      for (const value of u) {
        if (itemIsText ? typeof value !== 'string' : !item.is(value)) return false;
        if (illFormed(value)) return false;
      }
      return true;
    };
    super(
      'array',
      is,
      (u, c) => {
        if (!Array.isArray(u)) return t.failure(u, c);
        if (fast && allPassUnchanged(u)) return t.success(u as t.TypeOf<C>[]);
        const out: t.TypeOf<C>[] = [];
        let errors: t.ValidationError[] | undefined;
        for (let i = 0; i < u.length; i++) {
          const value: unknown = u[i];
          const result = validateAt(item, item, free, value, c, i);
          if (result._tag === 'Left') {
            errors = errors === undefined ? [...result.left] : errors.concat(result.left);
          } else if (illFormed(result.right)) {
            (errors ??= []).push(illFormedFailure(result.right, c, String(i)));
          } else {
            out.push(result.right);
          }
        }
        return errors === undefined ? t.success(out) : t.failures(errors);
      },
      t.identity,
    );
  }
}

export const array = <C extends t.Mixed>(codec: C): ArrayOfType<C> => new ArrayOfType(codec);

/** A JSON object used as a map (tags, linkTags, MessageAttributes). */
export const record = <C extends t.Mixed>(
  codec: C,
): t.Type<Record<string, t.TypeOf<C>>, unknown> => {
  const fast = passesUnchanged(codec);
  const free = ignoresContext(codec);
  return markContextFree(
    new t.Type<Record<string, t.TypeOf<C>>, unknown>(
      'object',
      (u): u is Record<string, t.TypeOf<C>> =>
        isPlainObject(u) && Object.values(u).every((v) => codec.is(v)),
      (u, c) => {
        if (!isPlainObject(u)) return t.failure(u, c);
        // A prototype-less result: a "__proto__" key stays an ordinary entry.
        const out = Object.create(null) as Record<string, t.TypeOf<C>>;
        for (const key of Object.keys(u)) {
          const value = u[key];
          if (illFormed(key)) return t.failures([illFormedFailure(key, c, key)]);
          if (fast && codec.is(value)) {
            if (illFormed(value)) return t.failures([illFormedFailure(value, c, key)]);
            out[key] = value as t.TypeOf<C>;
            continue;
          }
          const result = validateAt(codec, codec, free, value, c, key);
          if (result._tag === 'Left') return result;
          if (illFormed(result.right)) return t.failures([illFormedFailure(result.right, c, key)]);
          out[key] = result.right;
        }
        return t.success(out);
      },
      t.identity,
    ),
  );
};

const quoteAll = (values: readonly string[]): string => values.map((v) => `"${v}"`).join(' | ');

/**
 * A closed string enum: anything else is an error. For values that drive behaviour
 * (bounceType, receipt action type, content encoding).
 */
export const enumOf = <V extends string>(values: readonly V[]): t.Type<V, string, unknown> => {
  const known = new Set<string>(values);
  const is = (u: unknown): u is V => typeof u === 'string' && known.has(u);
  return markContextFree(
    markPassThrough(
      new t.Type<V, string, unknown>(
        quoteAll(values),
        is,
        (u, c) => (is(u) ? t.success(u) : t.failure(u, c)),
        t.identity,
      ),
    ),
  );
};

declare const unrecognised: unique symbol;
/** A string SES may add to an open enum after this code was written. */
export type Unrecognised = string & { readonly [unrecognised]: true };

/**
 * An open string enum: the known values are typed as literals, and any other string is kept
 * (typed `Unrecognised`) rather than rejected. For descriptive fields SES extends over time
 * (bounce subtypes, delay types, feedback types, verdicts): rejecting a new value would send a
 * real bounce to the DLQ over a label.
 */
export const openEnum = <V extends string>(
  values: readonly V[],
): t.Type<V | Unrecognised, string, unknown> =>
  markContextFree(
    markPassThrough(
      new t.Type<V | Unrecognised, string, unknown>(
        `${quoteAll(values)} | string`,
        (u): u is V | Unrecognised => typeof u === 'string',
        (u, c) => (typeof u === 'string' ? t.success(u as V | Unrecognised) : t.failure(u, c)),
        t.identity,
      ),
    ),
  );

/** Chooses a codec by the value of a discriminator field; an unknown value is `unsupported`. */
export class TaggedType<
  K extends string,
  M extends Readonly<Record<string, t.Mixed>>,
> extends t.Type<t.TypeOf<M[keyof M]>, unknown, unknown> {
  readonly _tag = 'TaggedType' as const;
  constructor(
    readonly tag: K,
    readonly members: M,
  ) {
    const byTag = new Map<unknown, t.Mixed>(Object.entries(members));
    const tagCodec = enumOf(Object.keys(members));
    super(
      'object',
      (u): u is t.TypeOf<M[keyof M]> =>
        isPlainObject(u) && hasOwn(u, tag) && byTag.get(u[tag])?.is(u) === true,
      (u, c) => {
        if (!isPlainObject(u)) return t.failure(u, c);
        const tagValue = hasOwn(u, tag) ? u[tag] : undefined;
        const member = byTag.get(tagValue);
        if (member === undefined) {
          // A string this version does not know is a type SES may have added: `unsupported`,
          // worth replaying once supported. Anything else is a malformed message.
          const context = t.appendContext(c, tag, tagCodec, tagValue);
          return typeof tagValue === 'string'
            ? t.failure(tagValue, context, UNSUPPORTED)
            : t.failure(tagValue, context);
        }
        return member.validate(u, c) as t.Validation<t.TypeOf<M[keyof M]>>;
      },
      t.identity,
    );
  }
}

/** Marks the failure of an unknown discriminator value (see `TaggedType`). */
export const UNSUPPORTED = 'unsupported';

export const tagged = <K extends string, M extends Readonly<Record<string, t.Mixed>>>(
  tag: K,
  members: M,
): TaggedType<K, M> => new TaggedType(tag, members);

/**
 * Chooses among tagged unions by which discriminator field the object has: an SQS body is an
 * SNS envelope (`Type`), an event publishing record (`eventType`) or a notification
 * (`notificationType`). Routing by codec, never by sniffing the raw text.
 */
export const byDiscriminator = <A extends readonly (t.Mixed & { readonly tag: string })[]>(
  alternatives: A,
): t.Type<t.TypeOf<A[number]>, unknown, unknown> => {
  const names = alternatives.map((a) => a.tag).join(', ');
  return new t.Type<t.TypeOf<A[number]>, unknown, unknown>(
    `object with one of ${names}`,
    (u): u is t.TypeOf<A[number]> => alternatives.some((a) => a.is(u)),
    (u, c) => {
      if (isPlainObject(u)) {
        const chosen = alternatives.find((a) => hasOwn(u, a.tag));
        if (chosen !== undefined) return chosen.validate(u, c);
      }
      return t.failure(u, c);
    },
    t.identity,
  );
};
