import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { uploadProblem } from '../../../src/handlers/upload.js';
import { uploadName } from '../../../src/handlers/upload-storage.js';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('uploadName', () => {
  test('upload_YYYYMMDD_HHMMSS_<random>.json in UTC, zero-padded', () => {
    assert.equal(uploadName(new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), '0123456789abcdef'), 'upload_20240102_030405_0123456789abcdef.json');
    assert.equal(uploadName(new Date(Date.UTC(2023, 11, 31, 23, 59, 59, 999)), 'ffffffffffffffff'), 'upload_20231231_235959_ffffffffffffffff.json');
    assert.equal(uploadName(new Date('2025-06-15T12:30:00+02:00'), 'a'), 'upload_20250615_103000_a.json');
  });
});

describe('uploadProblem', () => {
  test('a valid JSON document is accepted', () => {
    for (const text of ['{}', '[]', '{"name":"test","values":[1,2.5,-3e2,true,null]}', ' "x" ', '{"名前":"値","emoji":"😀"}']) {
      assert.equal(uploadProblem(encode(text)), null, text);
    }
  });

  test("the repository's data.json sample is accepted", () => {
    assert.equal(uploadProblem(readFileSync(new URL('../../../../data.json', import.meta.url))), null);
  });

  test('an empty body is refused', () => {
    assert.match(uploadProblem(new Uint8Array(0)) ?? '', /empty/);
  });

  test('a byte order mark is refused', () => {
    assert.match(uploadProblem(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d])) ?? '', /byte order mark/);
  });

  test('invalid UTF-8 is refused, even inside a JSON string, naming the byte where it starts', () => {
    const cases: ReadonlyArray<readonly [bytes: number[], offset: number]> = [
      [[0x22, 0xff, 0x22], 1], // never valid
      [[0x22, 0xc0, 0xaf, 0x22], 1], // overlong
      [[0x22, 0xed, 0xa0, 0x80, 0x22], 1], // surrogate
      [[0x22, 0xe2, 0x82, 0x22], 1], // truncated sequence
      [[0x22, 0xf4, 0x90, 0x80, 0x80, 0x22], 1], // above U+10FFFF
      [[0x7b, 0x22, 0xc3, 0xa9, 0x22, 0x3a, 0x22, 0x80, 0x22, 0x7d], 7], // a stray continuation byte after a valid é
    ];
    for (const [bytes, offset] of cases) assert.equal(uploadProblem(new Uint8Array(bytes)), `body is not valid UTF-8 at byte ${offset}`, JSON.stringify(bytes));
  });

  test('invalid JSON is refused with the byte offset', () => {
    assert.match(uploadProblem(encode('{"a":}')) ?? '', /^invalid JSON at byte 5: /);
    assert.match(uploadProblem(encode('{"é":1,}')) ?? '', /^invalid JSON at byte 8: /);
    assert.match(uploadProblem(encode('   ')) ?? '', /^invalid JSON at byte 3: /);
    assert.match(uploadProblem(encode('{} {}')) ?? '', /^invalid JSON at byte 3: /);
  });
});
