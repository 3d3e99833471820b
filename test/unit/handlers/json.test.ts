import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_JSON_DEPTH, checkJson } from '../../../src/handlers/json.js';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A surrogate code unit outside a pair (the pattern reads code units: it has no u flag). */
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** JSON.parse, also refusing the unpaired surrogate escapes it lets through (RFC 7493 §2.1). */
function parsesStrictly(text: string): boolean {
  let paired = true;
  try {
    JSON.parse(text, (key, value: unknown) => {
      if (UNPAIRED_SURROGATE.test(key) || (typeof value === 'string' && UNPAIRED_SURROGATE.test(value))) paired = false;
      return value;
    });
    return paired;
  } catch {
    return false;
  }
}

const VALID = [
  '0', '-0', '1', '-1', '10', '123.456', '-0.5e-10', '1E+2', '1e2', '2.5E-3', '1e400', '-1.7976931348623157e308',
  'true', 'false', 'null', '""', '"abc"', '"\\"\\\\\\/\\b\\f\\n\\r\\t"', '"\\u0000\\uD83D\\uDE00\\uabcd\\uABCD"', '"caf\u00e9 \u2603 \ud83d\ude00"', '"\u007f"',
  '[]', '{}', '[ ]', '{ }', ' \t\r\n[1, 2 ,3]\n', '[[[]]]', '[{}, [], "", 0, null]', '{"a":1}', '{"a" : 1 , "b" : [true, false]}',
  '{"":""}', '{"a":{"b":{"c":[1,{"d":null}]}}}', '{"a":1,"a":2}', '[1e-5,-0.0,0e0]', '"\\u0041"', '  "padded"  ',
];

const INVALID = [
  '', ' ', '\n', '[', ']', '{', '}', '[1', '[1,', '[1,]', '[,1]', '[,]', '{"a"}', '{"a":}', '{"a":1,}', '{,}', '{a:1}', "{'a':1}", '{"a" 1}',
  '{1:2}', '[1 2]', '{"a":1 "b":2}', '01', '-01', '+1', '.5', '1.', '1.e5', '1e', '1e+', '-', '--1', '0x10', 'NaN', 'Infinity', '-Infinity',
  'tru', 'true1', 'trUe', 'nul', 'nulls', 'False', 'undefined', '"abc', '"\\x"', '"\\u12G4"', '"\\u123"', '"\\', '"a\nb"', '"tab\there"',
  '"\u0000"', "'single'", '1 2', '[] []', '{}x', '"a" "b"', '\ufeff{}', '\u00a0{}', '[1]\u0000', '//c\n1', '/*c*/1', '[1,2,3', '{"a":[1,2}',
  '[}', '{]', '"\\U0041"', '1_000', 'é',
];

/** A seeded generator, so that a failure can be reproduced. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

const MUTATION_CHARACTERS = ['{', '}', '[', ']', ',', ':', '"', '\\', '0', '1', '-', '+', '.', 'e', 'E', 'u', 'a', 't', 'n', ' ', '\n', '\t', '\u0001', '\u00e9', '/'];

describe('JSON checker', () => {
  test('accepts what JSON.parse accepts', () => {
    for (const text of VALID) {
      assert.equal(parses(text), true, `JSON.parse must accept ${JSON.stringify(text)}`);
      assert.deepEqual(checkJson(encode(text)), { ok: true }, text);
    }
  });

  test('refuses what JSON.parse refuses', () => {
    for (const text of INVALID) {
      assert.equal(parses(text), false, `JSON.parse must refuse ${JSON.stringify(text)}`);
      const check = checkJson(encode(text));
      assert.equal(check.ok, false, JSON.stringify(text));
    }
  });

  test('agrees with JSON.parse, strict about surrogates, on thousands of mutated documents', () => {
    const next = random(20_240_601);
    const bases = VALID.filter((text) => text.length > 2);
    let valid = 0;
    for (let i = 0; i < 20_000; i++) {
      let text = bases[Math.floor(next() * bases.length)]!;
      for (let edits = 1 + Math.floor(next() * 3); edits > 0; edits--) {
        const at = Math.floor(next() * (text.length + 1));
        const character = MUTATION_CHARACTERS[Math.floor(next() * MUTATION_CHARACTERS.length)]!;
        const kind = next();
        if (kind < 0.4) text = text.slice(0, at) + character + text.slice(at);
        else if (kind < 0.7) text = text.slice(0, at) + text.slice(at + 1);
        else text = text.slice(0, at) + character + text.slice(at + 1);
      }
      // The checker sees the encoded bytes, where an edit that split a raw pair became U+FFFD.
      const bytes = encode(text);
      const expected = parsesStrictly(new TextDecoder().decode(bytes));
      if (expected) valid++;
      assert.equal(checkJson(bytes).ok, expected, JSON.stringify(text));
    }
    // Both outcomes must have been exercised for the comparison to mean anything.
    assert.ok(valid > 500 && valid < 19_500, `valid mutations: ${valid}`);
  });

  test('reports the byte offset of the first error', () => {
    const cases: ReadonlyArray<readonly [text: string, offset: number]> = [
      ['', 0],
      ['   ', 3],
      ['{"a":}', 5],
      ['[1,2', 4],
      ['"abc', 4],
      ['tru', 3],
      ['trux', 3],
      ['{"a" 1}', 5],
      ['[1 2]', 3],
      ['01', 1],
      ['{"a":1,}', 7],
      ['"\\x"', 2],
      ['"\\u12G4"', 5],
      ['"a\nb"', 2],
      ['1 2', 2],
      ['1.', 2],
      ['1e+', 3],
      ['{"caf\u00e9": x}', 10], // é is two bytes: the offset counts bytes, not characters
    ];
    for (const [text, offset] of cases) {
      const check = checkJson(encode(text));
      assert.ok(!check.ok, JSON.stringify(text));
      assert.equal(check.offset, offset, `${JSON.stringify(text)}: ${check.message}`);
      assert.ok(check.message.length > 0);
    }
  });

  test(`nesting up to MAX_JSON_DEPTH (${MAX_JSON_DEPTH}) levels is fine; one more is refused where it opens`, () => {
    const depth = MAX_JSON_DEPTH;
    assert.deepEqual(checkJson(encode('['.repeat(depth) + ']'.repeat(depth))), { ok: true });
    assert.deepEqual(checkJson(encode('{"a":'.repeat(depth) + '1' + '}'.repeat(depth))), { ok: true });
    assert.deepEqual(checkJson(encode('[{"a":'.repeat(depth / 2) + '1' + '}]'.repeat(depth / 2))), { ok: true });
    const deeper = checkJson(encode('['.repeat(depth + 1) + ']'.repeat(depth + 1)));
    assert.deepEqual(deeper, { ok: false, offset: depth, message: `nested deeper than ${MAX_JSON_DEPTH} levels` });
    const objects = checkJson(encode('{"a":'.repeat(depth + 1) + '1' + '}'.repeat(depth + 1)));
    assert.deepEqual(objects.ok === false && objects.offset, depth * 5);
  });

  test('a megabyte of `[` is refused at the limit, without a stack of a million entries', () => {
    const open = checkJson(encode('['.repeat(1 << 20)));
    assert.deepEqual(open, { ok: false, offset: MAX_JSON_DEPTH, message: `nested deeper than ${MAX_JSON_DEPTH} levels` });
    assert.equal(checkJson(encode('['.repeat(10) + '}'.repeat(10))).ok, false);
    assert.equal(checkJson(encode('{"a":'.repeat(10))).ok, false);
  });

  test('a leading zero is named as such, at the digit after it', () => {
    for (const [text, offset] of [['01', 1], ['-01', 2], ['[1, 00]', 5], ['{"a":0123}', 6]] as const) {
      assert.deepEqual(checkJson(encode(text)), { ok: false, offset, message: 'a number must not have a leading zero' }, text);
    }
    for (const text of ['0', '-0', '0.01', '0e1', '[0,0]', '10', '100']) assert.deepEqual(checkJson(encode(text)), { ok: true }, text);
  });

  test('refuses an unpaired surrogate escape, which JSON.parse lets through, at its backslash', () => {
    const HIGH_ALONE = 'a high surrogate escape (\\uD800-\\uDBFF) must be followed by a low one (\\uDC00-\\uDFFF)';
    const LOW_ALONE = 'a low surrogate escape (\\uDC00-\\uDFFF) must follow a high one (\\uD800-\\uDBFF)';
    const cases: ReadonlyArray<readonly [text: string, offset: number, message: string]> = [
      ['"\\ud800"', 1, HIGH_ALONE],
      ['"\\uDBFF"', 1, HIGH_ALONE],
      ['"ab\\uD83Dx"', 3, HIGH_ALONE],
      ['"\\uD83D\\n"', 1, HIGH_ALONE],
      ['"\\uD83D\\u0041"', 1, HIGH_ALONE],
      ['"\\uD83D\\uD83D\\uDE00"', 1, HIGH_ALONE],
      ['{"\\ud800":1}', 2, HIGH_ALONE],
      ['"\\udc00"', 1, LOW_ALONE],
      ['"\\uDFFF"', 1, LOW_ALONE],
      ['"\\uDE00\\uD83D"', 1, LOW_ALONE],
      ['"\\uD83D\\uDE00\\uDE00"', 13, LOW_ALONE],
    ];
    for (const [text, offset, message] of cases) {
      assert.equal(parses(text), true, `JSON.parse lets ${text} through`);
      assert.deepEqual(checkJson(encode(text)), { ok: false, offset, message }, text);
    }
    assert.deepEqual(checkJson(encode('"\\uD83D')), { ok: false, offset: 1, message: HIGH_ALONE });
    assert.deepEqual(checkJson(encode('"\\uD83D\\uDE0G"')), { ok: false, offset: 12, message: 'invalid \\u escape' });
    for (const text of ['"\\uD800\\uDC00"', '"\\udbff\\udfff"', '"\\uD83D\\uDE00\\uD83D\\uDE00"', '"\\uD7FF\\uE000"', '"\\uDAbc\\uDcDe"']) {
      assert.deepEqual(checkJson(encode(text)), { ok: true }, text);
    }
  });

  test('reads bytes, not text: invalid UTF-8 inside a string is not its concern', () => {
    assert.deepEqual(checkJson(new Uint8Array([0x22, 0xff, 0xfe, 0x22])), { ok: true });
    assert.equal(checkJson(new Uint8Array([0xff])).ok, false);
  });
});
