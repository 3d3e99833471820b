import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { describe, test } from 'node:test';
import { firstInvalidUtf8 } from '../../../src/handlers/utf8.js';

/** A seeded generator, so that a failure can be reproduced. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** Bytes at the edges of the ranges of table 3-7, where a checker is most likely wrong. */
const EDGES = [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff];
/** Valid characters of each length, at the edges too. */
const CHARACTERS = ['a', '\u0080', '\u00e9', '\u07ff', '\u0800', '\u20ac', '\ud7ff', '\ue000', '\uffff', '\u{10000}', '\u{1f600}', '\u{10ffff}'].map((text) => [...new TextEncoder().encode(text)]);

describe('firstInvalidUtf8', () => {
  test('null for valid UTF-8 of every length', () => {
    for (const text of ['', 'a', '{"a":1}', 'caf\u00e9', '\u0800\uffff', '\u{10000}\u{10ffff}', '\ud7ff\ue000', 'x\u{1f600}y\u00e9z']) {
      assert.equal(firstInvalidUtf8(new TextEncoder().encode(text)), null, text);
    }
  });

  test('the offset where the first ill-formed sequence starts', () => {
    const cases: ReadonlyArray<readonly [bytes: number[], offset: number]> = [
      [[0xff], 0],
      [[0x61, 0x80], 1], // a continuation byte without a lead
      [[0x61, 0xc0, 0xaf], 1], // overlong /
      [[0xc1, 0xbf], 0], // overlong
      [[0xe0, 0x9f, 0xbf], 0], // overlong three-byte form
      [[0xf0, 0x8f, 0xbf, 0xbf], 0], // overlong four-byte form
      [[0x22, 0xed, 0xa0, 0x80, 0x22], 1], // a surrogate, U+D800
      [[0xc3, 0xa9, 0xe2, 0x82], 2], // truncated at the end, after a valid é
      [[0xe2, 0x82, 0x41], 0], // truncated before ASCII
      [[0xf4, 0x90, 0x80, 0x80], 0], // past U+10FFFF
      [[0xf5, 0x80, 0x80, 0x80], 0],
      [[0xf0, 0x9f, 0x98, 0x80, 0xf0, 0x9f, 0x98], 4], // a valid U+1F600, then one cut short
    ];
    for (const [bytes, offset] of cases) assert.equal(firstInvalidUtf8(new Uint8Array(bytes)), offset, JSON.stringify(bytes));
  });

  test("agrees with Buffer's isUtf8 on random bytes, and what comes before the offset is valid", () => {
    const next = random(20_261_205);
    let invalid = 0;
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    for (let i = 0; i < 20_000; i++) {
      const pieces: number[] = [];
      for (let count = 1 + Math.floor(next() * 6); count > 0; count--) {
        const kind = next();
        if (kind < 0.85) pieces.push(...pick(CHARACTERS));
        else if (kind < 0.95) pieces.push(pick(EDGES));
        else pieces.push(Math.floor(next() * 256));
      }
      const bytes = new Uint8Array(pieces);
      const offset = firstInvalidUtf8(bytes);
      const shown = JSON.stringify(pieces);
      assert.equal(offset === null, isUtf8(bytes), shown);
      if (offset === null) continue;
      invalid++;
      // All before the offset is valid, and no valid character starts at it.
      assert.equal(isUtf8(bytes.subarray(0, offset)), true, shown);
      for (let length = 1; length <= 4; length++) assert.equal(isUtf8(bytes.subarray(offset, offset + length)), false, shown);
    }
    // Both outcomes must have been exercised for the comparison to mean anything.
    assert.ok(invalid > 1_000 && invalid < 19_000, `invalid: ${invalid}`);
  });
});
