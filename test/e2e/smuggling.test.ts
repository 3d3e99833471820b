// Ambiguous framing against the real server, as raw bytes: every case has one defined answer,
// and no case is ever served as two requests. Each request carries a second, "smuggled"
// request (GET /smuggled) where a server that framed the message differently would find one.
//   - Refused cases: exactly one response (the error), then the connection closes unread.
//   - Accepted cases: the smuggled bytes are body, never a request; a sentinel request sent
//     after the message (GET /sample.txt, Connection: close) is answered second, and nothing else.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseResponses, RawClient } from '../helpers/raw.js';
import { RESOURCES_DIR, startServer, type StartedServer } from '../helpers/server.js';

let server: StartedServer;
let host: string;
before(async () => {
  server = await startServer();
  host = `127.0.0.1:${server.port}`;
});
after(async () => {
  await server.stop();
});

const SAMPLE = readFileSync(join(RESOURCES_DIR, 'sample.txt'));

/** The request a differently framing server would see in the body. */
const smuggled = (): string => `GET /smuggled HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
const sentinel = (): string => `GET /sample.txt HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
/** A request head to /sample.txt with the given header lines. */
const head = (lines: string, version = '1.1'): string => `GET /sample.txt HTTP/${version}\r\nHost: ${host}\r\n${lines}\r\n`;
const chunk = (data: string): string => `${data.length.toString(16)}\r\n${data}\r\n`;

interface Case {
  readonly name: string;
  /** Bytes of the message under test (the smuggled request is inside or right after it). */
  readonly bytes: () => string;
  /** The one status the server answers with; 2xx means the message is accepted. */
  readonly status: number;
  /** The rule behind the answer. */
  readonly why: string;
}

const refused: Case[] = [
  { name: 'Content-Length and Transfer-Encoding together', status: 400, why: 'RFC 9112 §6.1 allows rejecting; the server never guesses which framing wins', bytes: () => head('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n') + '0\r\n\r\n' + smuggled() },
  { name: 'Transfer-Encoding before Content-Length', status: 400, why: 'same as above, whatever the order', bytes: () => head('Transfer-Encoding: chunked\r\nContent-Length: 40\r\n') + '0\r\n\r\n' + smuggled() },
  { name: 'Transfer-Encoding: chunked, identity', status: 400, why: 'RFC 9112 §6.3: chunked must be the final coding, else 400 and close', bytes: () => head('Transfer-Encoding: chunked, identity\r\n') + '0\r\n\r\n' + smuggled() },
  { name: 'Transfer-Encoding: identity, chunked', status: 400, why: 'chunked is the only coding served; a list is refused', bytes: () => head('Transfer-Encoding: identity, chunked\r\n') + '0\r\n\r\n' + smuggled() },
  { name: 'Transfer-Encoding: gzip, chunked', status: 400, why: 'chunked is the only coding served; a list is refused', bytes: () => head('Transfer-Encoding: gzip, chunked\r\n') + '0\r\n\r\n' + smuggled() },
  { name: 'Transfer-Encoding: xchunked', status: 501, why: 'RFC 9112 §6.1: an unknown transfer coding is 501', bytes: () => head('Transfer-Encoding: xchunked\r\n') + '0\r\n\r\n' + smuggled() },
  { name: 'Transfer-Encoding: chunked plus a second Transfer-Encoding: identity', status: 400, why: 'repeated fields join (RFC 9110 §5.3) to "chunked, identity"', bytes: () => head('Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n') + '0\r\n\r\n' + smuggled() },
  { name: 'Transfer-Encoding: chunked twice', status: 400, why: 'RFC 9112 §7: chunked must not be applied twice', bytes: () => head('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n') + '0\r\n\r\n' + smuggled() },
  { name: 'Transfer-Encoding in an HTTP/1.0 request', status: 400, why: 'RFC 9112 §6.1: HTTP/1.0 has no chunked framing; treat as faulty', bytes: () => head('Transfer-Encoding: chunked\r\n', '1.0') + '0\r\n\r\n' + smuggled() },
  { name: 'two different Content-Length fields', status: 400, why: 'RFC 9112 §6.3: conflicting lengths are unrecoverable', bytes: () => head('Content-Length: 0\r\nContent-Length: 40\r\n') + smuggled() },
  { name: 'Content-Length list with different values', status: 400, why: 'RFC 9110 §8.6: only a list of one repeated value may be accepted', bytes: () => head('Content-Length: 0, 40\r\n') + smuggled() },
  { name: 'Content-Length: +5', status: 400, why: 'RFC 9110 §8.6: Content-Length = 1*DIGIT', bytes: () => head('Content-Length: +5\r\n') + 'hello' + smuggled() },
  { name: 'Content-Length: -1', status: 400, why: 'RFC 9110 §8.6: Content-Length = 1*DIGIT', bytes: () => head('Content-Length: -1\r\n') + smuggled() },
  { name: 'Content-Length: 0x5', status: 400, why: 'decimal only', bytes: () => head('Content-Length: 0x5\r\n') + 'hello' + smuggled() },
  { name: 'Content-Length: 5 5 (space inside the value)', status: 400, why: 'a space inside the value is not OWS around it', bytes: () => head('Content-Length: 5 5\r\n') + 'hello' + smuggled() },
  { name: 'empty Content-Length', status: 400, why: 'RFC 9110 §8.6: Content-Length = 1*DIGIT', bytes: () => head('Content-Length: \r\n') + smuggled() },
  { name: 'Content-Length past the body limit', status: 413, why: 'MAX_BODY_BYTES; refused before any body byte is read', bytes: () => head('Content-Length: 99999999999\r\n') + smuggled() },
  { name: 'Content-Length of 16 digits', status: 400, why: 'more digits than any length the server represents exactly', bytes: () => head('Content-Length: 1234567890123456\r\n') + smuggled() },
  { name: 'chunk size overflowing 64 bits', status: 413, why: 'the size is compared, never wrapped: past MAX_BODY_BYTES', bytes: () => head('Transfer-Encoding: chunked\r\n') + 'ffffffffffffffffffff\r\n' + smuggled() },
  { name: 'chunk size that wraps to 1 in 64 bits', status: 413, why: 'the size is compared, never wrapped: past MAX_BODY_BYTES', bytes: () => head('Transfer-Encoding: chunked\r\n') + '10000000000000001\r\nx\r\n0\r\n\r\n' + smuggled() },
  { name: 'chunk size with 0x prefix', status: 400, why: 'RFC 9112 §7.1: chunk-size = 1*HEXDIG', bytes: () => head('Transfer-Encoding: chunked\r\n') + '0x5\r\nhello\r\n0\r\n\r\n' + smuggled() },
  { name: 'negative chunk size', status: 400, why: 'RFC 9112 §7.1: chunk-size = 1*HEXDIG', bytes: () => head('Transfer-Encoding: chunked\r\n') + '-5\r\nhello\r\n0\r\n\r\n' + smuggled() },
  { name: 'chunk size with leading space', status: 400, why: 'no whitespace before the size', bytes: () => head('Transfer-Encoding: chunked\r\n') + ' 5\r\nhello\r\n0\r\n\r\n' + smuggled() },
  { name: 'chunk data longer than its size', status: 400, why: 'chunk data must be followed by CRLF', bytes: () => head('Transfer-Encoding: chunked\r\n') + '5\r\nhelloXX\r\n0\r\n\r\n' + smuggled() },
  { name: 'chunk extension with a NUL byte', status: 400, why: 'controls are not allowed in a chunk extension', bytes: () => head('Transfer-Encoding: chunked\r\n') + '5;a=\0\r\nhello\r\n0\r\n\r\n' + smuggled() },
  { name: 'chunk extension over 1 KiB', status: 400, why: 'the chunk-size line is bounded', bytes: () => head('Transfer-Encoding: chunked\r\n') + `5;${'a'.repeat(2000)}\r\nhello\r\n0\r\n\r\n` + smuggled() },
  { name: 'trailer line without a colon', status: 400, why: 'RFC 9112 §7.1.2: trailers are field lines', bytes: () => head('Transfer-Encoding: chunked\r\n') + '0\r\nnot a field\r\n\r\n' + smuggled() },
  { name: 'obs-fold in a trailer', status: 400, why: 'RFC 9112 §5.2: obs-fold is refused', bytes: () => head('Transfer-Encoding: chunked\r\n') + '0\r\nX-T: a\r\n b\r\n\r\n' + smuggled() },
  { name: 'LF-only line ends in the head', status: 400, why: 'RFC 9112 §2.2 lets a recipient accept bare LF; we do not, as a front end may not', bytes: () => `GET /sample.txt HTTP/1.1\nHost: ${host}\n\n` + smuggled() },
  { name: 'LF-only line ends in a chunked body', status: 400, why: 'chunk lines end in CRLF', bytes: () => head('Transfer-Encoding: chunked\r\n') + '5\nhello\n0\n\n' + smuggled() },
  { name: 'bare CR inside a header value', status: 400, why: 'RFC 9112 §2.2: a bare CR is refused', bytes: () => head('X-A: a\rb\r\n') + smuggled() },
  { name: 'NUL in a header value', status: 400, why: 'RFC 9110 §5.5: NUL is never allowed in a field value', bytes: () => head('X-A: a\0b\r\n') + smuggled() },
  { name: 'control byte 0x01 in a header value', status: 400, why: 'RFC 9110 §5.5: field values are VCHAR, SP, HTAB and obs-text', bytes: () => head('X-A: a\x01b\r\n') + smuggled() },
  { name: 'DEL in a header value', status: 400, why: 'RFC 9110 §5.5: DEL is not VCHAR', bytes: () => head('X-A: a\x7fb\r\n') + smuggled() },
  { name: 'NUL in a header name', status: 400, why: 'RFC 9110 §5.1: field names are tokens', bytes: () => head('X\0A: b\r\n') + smuggled() },
  { name: 'NUL in the request line', status: 400, why: 'RFC 9112 §3: the target is visible ASCII', bytes: () => `GET /sample.txt\0 HTTP/1.1\r\nHost: ${host}\r\n\r\n` + smuggled() },
  { name: 'obs-fold in a header', status: 400, why: 'RFC 9112 §5.2: a server must refuse obs-fold (or replace it), we refuse', bytes: () => head('X-A: a\r\n b\r\n') + smuggled() },
  { name: 'folded Transfer-Encoding', status: 400, why: 'RFC 9112 §5.2: obs-fold is refused', bytes: () => head('Transfer-Encoding:\r\n chunked\r\n') + '0\r\n\r\n' + smuggled() },
  { name: 'space before the colon', status: 400, why: 'RFC 9112 §5.1: a server must refuse whitespace before the colon with 400', bytes: () => head('Transfer-Encoding : chunked\r\n') + '0\r\n\r\n' + smuggled() },
  { name: 'tab before the colon', status: 400, why: 'RFC 9112 §5.1: a server must refuse whitespace before the colon with 400', bytes: () => head('Content-Length\t: 5\r\n') + 'hello' + smuggled() },
  { name: 'the same Content-Length twice', status: 400, why: 'RFC 9110 §8.6 lets a recipient refuse repeated values; llhttp does', bytes: () => head(`Content-Length: ${smuggled().length}\r\nContent-Length: ${smuggled().length}\r\n`) + smuggled() },
  { name: 'a Content-Length list of one repeated value', status: 400, why: 'RFC 9110 §8.6: "5, 5" may be refused; llhttp does', bytes: () => head(`Content-Length: ${smuggled().length}, ${smuggled().length}\r\n`) + smuggled() },
  { name: 'a Content-Length trailer', status: 400, why: 'RFC 9110 §6.5.1: framing fields cannot be trailers; llhttp refuses it', bytes: () => head('Transfer-Encoding: chunked\r\n') + chunk('hello') + `0\r\nContent-Length: ${smuggled().length}\r\n\r\n` + smuggled() },
  { name: 'a Transfer-Encoding trailer', status: 400, why: 'RFC 9110 §6.5.1: framing fields cannot be trailers; llhttp refuses it', bytes: () => head('Transfer-Encoding: chunked\r\n') + chunk('hello') + '0\r\nTransfer-Encoding: chunked\r\n\r\n' + smuggled() },
  { name: 'a chunk extension without a name', status: 400, why: 'RFC 9112 §7.1.1: chunk-ext-name is a token; llhttp refuses "5;"', bytes: () => head('Transfer-Encoding: chunked\r\n') + '5;\r\nhello\r\n0\r\n\r\n' + smuggled() },
  { name: 'whitespace before a chunk extension', status: 400, why: 'BWS that llhttp refuses: a front end may frame it differently', bytes: () => head('Transfer-Encoding: chunked\r\n') + '5 ;a=b\r\nhello\r\n0\r\n\r\n' + smuggled() },
  { name: 'two Host fields', status: 400, why: 'RFC 9112 §3.2: more than one Host is 400', bytes: () => head('Host: other.example\r\n') + smuggled() },
];

const accepted: Case[] = [
  { name: 'a GET with a body holding a request', status: 200, why: 'Content-Length frames a body on any method (RFC 9112 §6.3); the body is read and dropped', bytes: () => head(`Content-Length: ${smuggled().length}\r\n`) + smuggled() },
  { name: 'Content-Length with spaces around the value', status: 200, why: 'RFC 9112 §5: OWS around a field value is not part of it', bytes: () => head(`Content-Length:    ${smuggled().length}   \r\n`) + smuggled() },
  { name: 'Content-Length with tabs around the value', status: 200, why: 'RFC 9112 §5: OWS is SP or HTAB', bytes: () => head(`Content-Length:\t${smuggled().length}\t\r\n`) + smuggled() },
  { name: 'chunked body holding a request', status: 200, why: 'chunk data is body, whatever it contains', bytes: () => head('Transfer-Encoding: chunked\r\n') + chunk(smuggled()) + '0\r\n\r\n' },
  { name: 'Transfer-Encoding: Chunked with OWS', status: 200, why: 'coding names are case-insensitive (RFC 9112 §7); OWS is stripped', bytes: () => head('Transfer-Encoding: \tChunked \r\n') + chunk(smuggled()) + '0\r\n\r\n' },
  { name: 'chunk extensions', status: 200, why: 'RFC 9112 §7.1.1: unknown extensions are ignored', bytes: () => head('Transfer-Encoding: chunked\r\n') + `${smuggled().length.toString(16)};a=b;q="x y"\r\n${smuggled()}\r\n0;last\r\n\r\n` },
  { name: 'trailer fields', status: 200, why: 'RFC 9112 §7.1.2: trailers are read and dropped', bytes: () => head('Transfer-Encoding: chunked\r\n') + chunk('hello') + '0\r\nX-Checksum: abc\r\n\r\n' },
];

interface Observed {
  readonly statuses: number[];
  readonly connections: string[];
  readonly bodies: Buffer[];
  /** Bytes after the last complete response. */
  readonly rest: number;
}

/** Sends the bytes on a fresh connection and collects everything until the server closes. */
async function exchange(bytes: string): Promise<Observed> {
  const client = await RawClient.connect(server.port);
  try {
    client.write(bytes);
    await client.waitClosed(10_000);
    const { responses, rest } = parseResponses(client.received);
    return { statuses: responses.map((r) => r.status), connections: responses.map((r) => r.headers.connection ?? ''), bodies: responses.map((r) => r.body), rest: rest.length };
  } finally {
    client.close();
  }
}

for (const c of refused) {
  test(`refused: ${c.name} -> ${c.status} and close`, async () => {
    const seen = await exchange(c.bytes());
    assert.deepEqual(seen.statuses, [c.status], `${c.why}; answered ${seen.statuses.join(', ')}`);
    assert.equal(seen.connections[0], 'close');
    assert.equal(seen.rest, 0, 'nothing after the one response');
  });
}

for (const c of accepted) {
  test(`accepted: ${c.name} -> ${c.status}, one request`, async () => {
    const seen = await exchange(c.bytes() + sentinel());
    // The message, then the sentinel: a smuggled GET /smuggled would have added a 404.
    assert.deepEqual(seen.statuses, [c.status, 200], `${c.why}; answered ${seen.statuses.join(', ')}`);
    assert.deepEqual(seen.bodies[1], SAMPLE, 'the sentinel is answered with its own file');
    assert.equal(seen.rest, 0);
  });
}

for (const [name, version, connection] of [
  ['Connection: close', '1.1', 'Connection: close\r\n'],
  ['HTTP/1.0 without keep-alive', '1.0', ''],
] as const) {
  test(`the last request on a connection (${name}) has its body read, and nothing after it`, async () => {
    const body = '{"last":true}';
    const upload = `POST /upload HTTP/${version}\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n${connection}\r\n${body}`;
    const seen = await exchange(upload + smuggled());
    assert.deepEqual(seen.statuses, [201]);
    assert.equal(seen.connections[0], 'close');
    assert.equal(seen.rest, 0);
  });
}

test('no refused request reached a handler: nothing was logged for /smuggled', async () => {
  // Sent again here, so the test stands on its own when run alone.
  for (const c of refused) await exchange(c.bytes());
  await server.waitForLog((line) => line.msg === 'bad request');
  const served = server.logs.filter((line) => line.msg === 'request' && line.path === '/smuggled');
  assert.deepEqual(served, []);
});
