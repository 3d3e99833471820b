// The grammar's pure functions on their own; parser.test.ts drives the same rules through the
// byte-level parser, split at every boundary.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { refusalStatus } from '../../../src/core/refusals.js';
import { checkTrailerField, parseChunkSize, parseHead, ParseFailure } from '../../../src/http/request-grammar.js';

/** The line boundaries the parser would record for `text`: start and end of each line, CRLF excluded. */
function linesOf(text: string): number[] {
  const lines: number[] = [];
  let start = 0;
  for (let end = text.indexOf('\r\n'); end !== -1 && end !== start; end = text.indexOf('\r\n', start)) {
    lines.push(start, end);
    start = end + 2;
  }
  return lines;
}

function head(text: string) {
  return parseHead(text, linesOf(text));
}

function failsWith(status: number, run: () => unknown): void {
  assert.throws(run, (error: unknown) => error instanceof ParseFailure && refusalStatus(error.refusal) === status);
}

describe('parseHead', () => {
  test('reads the request line, lowercases names, joins repeated fields and derives framing', () => {
    const parsed = head('POST /upload HTTP/1.1\r\nHost: a\r\nX-Tag: one\r\nx-tag: two\r\nContent-Length: 012\r\nExpect: 100-continue\r\n\r\n');
    assert.equal(parsed.method, 'POST');
    assert.equal(parsed.target, '/upload');
    assert.equal(parsed.version, '1.1');
    assert.equal(parsed.headers['x-tag'], 'one, two');
    assert.equal(parsed.headers['content-length'], '12');
    assert.deepEqual(parsed.framing, { kind: 'length', length: 12 });
    assert.equal(parsed.keepAlive, true);
    assert.equal(parsed.expectContinue, true);
  });

  test('HTTP/1.0 keeps the connection only when asked; Connection: close always ends it', () => {
    assert.equal(head('GET / HTTP/1.0\r\nHost: a\r\n\r\n').keepAlive, false);
    assert.equal(head('GET / HTTP/1.0\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n').keepAlive, true);
    assert.equal(head('GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade, close\r\n\r\n').keepAlive, false);
  });

  test('refuses what two parsers could frame differently', () => {
    failsWith(400, () => head('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'));
    failsWith(400, () => head('POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n'));
    failsWith(400, () => head('POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n'));
    failsWith(400, () => head('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\t\r\n\r\n'));
    failsWith(400, () => head('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n'));
    failsWith(400, () => head('GET / HTTP/1.1\r\nHost : a\r\n\r\n'));
    failsWith(501, () => head('POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n'));
    failsWith(505, () => head('GET / HTTP/2.0\r\n\r\n'));
    failsWith(417, () => head('POST / HTTP/1.1\r\nContent-Length: 1\r\nExpect: 200-ok\r\n\r\n'));
  });
});

describe('parseChunkSize', () => {
  test('hex digits, with leading zeros and extensions', () => {
    assert.equal(parseChunkSize('0'), 0);
    assert.equal(parseChunkSize('00ff'), 255);
    assert.equal(parseChunkSize('1A;name=value;flag;q="a \\" b"'), 26);
  });

  test('a size past 12 hex digits is Infinity, beyond any body limit', () => {
    assert.equal(parseChunkSize('0000000000001'), 1);
    assert.equal(parseChunkSize('1000000000000'), Infinity);
  });

  test('refuses whitespace, empty sizes and malformed extensions', () => {
    for (const line of ['', ' 1', '1 ', '1 ;a', '1;', '1;=x', '1; a', 'g', '-1', '0x1']) {
      failsWith(400, () => parseChunkSize(line));
    }
  });
});

describe('checkTrailerField', () => {
  test('accepts an ordinary field and refuses the ones framing or routing depends on', () => {
    checkTrailerField('Server-Timing: db;dur=53');
    for (const line of ['Content-Length: 5', 'transfer-encoding: chunked', 'Host: b', 'Connection: close']) {
      failsWith(400, () => checkTrailerField(line));
    }
    failsWith(400, () => checkTrailerField(' folded: value'));
  });
});
