import * as t from 'io-ts';
import {
  array,
  enumOf,
  nullable,
  openEnum,
  optional,
  record,
  struct,
  tagged,
} from '../../../domain/codec/combinators';
import { fromValidationErrors } from '../../../domain/codec/decodeError';

const at = (codec: t.Mixed, u: unknown) => {
  const result = codec.validate(u, [{ key: '', type: codec, actual: u }]);
  return result._tag === 'Left' ? fromValidationErrors(result.left) : (result.right as unknown);
};

describe('why struct exists: io-ts t.type reads fields through a JSON __proto__ key', () => {
  // If io-ts stops doing this, struct could become a thin wrapper again.
  it('t.type sees a field the input never had', () => {
    const Codec = t.type({
      a: t.union([t.string, t.undefined]),
      b: t.union([t.string, t.undefined]),
    });
    const result = Codec.decode(JSON.parse('{"__proto__":{"b":"from-proto"}}'));
    expect(result._tag === 'Right' && result.right.b).toBe('from-proto');
  });

  it('struct does not', () => {
    const Codec = struct({ a: optional(t.string), b: optional(t.string) });
    const decoded = Codec.decode(JSON.parse('{"__proto__":{"b":"from-proto"}}'));
    expect(decoded).toEqual({ _tag: 'Right', right: {} });
    expect(decoded._tag === 'Right' && Object.getPrototypeOf(decoded.right)).toBe(Object.prototype);
  });
});

describe('struct', () => {
  const Person = struct({
    name: t.string,
    age: optional(t.number),
    nick: optional(nullable(t.string)),
  });

  it('keeps declared fields and drops the rest', () => {
    expect(Person.decode({ name: 'a', age: 3, extra: { deep: true } })).toEqual({
      _tag: 'Right',
      right: { name: 'a', age: 3 },
    });
  });

  it('leaves absent optional fields absent and keeps null where allowed', () => {
    const decoded = Person.decode({ name: 'a', nick: null });
    expect(decoded).toEqual({ _tag: 'Right', right: { name: 'a', nick: null } });
    expect(decoded._tag === 'Right' && 'age' in decoded.right).toBe(false);
  });

  it('names the missing field', () => {
    expect(at(Person, { age: 3 })).toMatchObject({
      path: 'name',
      expected: 'string',
      found: 'undefined',
    });
  });

  it('is() agrees with validate on plain values', () => {
    expect(Person.is({ name: 'a' })).toBe(true);
    expect(Person.is({ name: 'a', age: 'x' })).toBe(false);
    expect(Person.is([])).toBe(false);
  });
});

describe('array and record', () => {
  it('report indices and quoted keys', () => {
    expect(at(array(struct({ x: t.string })), [{ x: 'a' }, { x: 1 }])).toMatchObject({
      path: '[1].x',
      found: 'number 1',
    });
    expect(at(record(array(t.string)), { 'ses:configuration-set': [1] })).toMatchObject({
      path: '["ses:configuration-set"][0]',
    });
  });

  it('record keeps a __proto__ key as an entry of a prototype-less map', () => {
    const decoded = record(t.string).decode(JSON.parse('{"__proto__":"x","a":"b"}'));
    if (decoded._tag === 'Left') throw new Error('did not decode');
    expect(Object.getPrototypeOf(decoded.right)).toBeNull();
    expect(Object.keys(decoded.right)).toEqual(['__proto__', 'a']);
  });
});

describe('enums', () => {
  it('enumOf refuses values it does not know, naming the ones it does', () => {
    expect(at(enumOf(['Permanent', 'Transient']), 'Soft')).toMatchObject({
      expected: '"Permanent" | "Transient"',
      found: 'string "Soft"',
      reason: 'invalid',
    });
  });

  it('openEnum keeps values SES may add later', () => {
    expect(openEnum(['General']).decode('SomethingNew')).toEqual({
      _tag: 'Right',
      right: 'SomethingNew',
    });
    expect(openEnum(['General']).decode(3)._tag).toBe('Left');
  });
});

describe('tagged', () => {
  const Shape = tagged('kind', {
    circle: struct({ kind: t.literal('circle'), r: t.number }),
    square: struct({ kind: t.literal('square'), side: t.number }),
  });

  it('dispatches on the tag and reports inside the chosen member only', () => {
    expect(at(Shape, { kind: 'square', r: 1 })).toMatchObject({ path: 'side', reason: 'invalid' });
  });

  it.each(['triangle', 'constructor', 'toString', '__proto__', ''])(
    'calls an unknown tag %j unsupported (a type a later version may know)',
    (kind) => {
      expect(at(Shape, { kind })).toMatchObject({ path: 'kind', reason: 'unsupported' });
    },
  );

  it.each([7, null, undefined, ['circle']])(
    'calls a tag %j that is not a string invalid',
    (kind) => {
      expect(at(Shape, { kind })).toMatchObject({ path: 'kind', reason: 'invalid' });
    },
  );
});
