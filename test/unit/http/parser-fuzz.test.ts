// Property-based tests of the request parser (fast-check): hostile bytes never crash it, a
// valid request parses to exactly what was sent however the bytes are split, and serialising
// a parsed request then parsing it again gives the same request.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { refusalStatus } from '../../../src/core/refusals.js';
import type { ParsedRequest, RequestHead } from '../../../src/core/request.js';
import { RequestParser, type ParseEvent, type ParserLimits } from '../../../src/http/parser.js';

/** Roomy limits: generated valid requests always fit. */
const ROOMY: ParserLimits = { maxRequestLineBytes: 8192, maxHeaderBytes: 8192, maxBodyBytes: 1 << 20 };
/** Tight limits: random inputs reach the 413, 414 and 431 paths too. */
const TIGHT: ParserLimits = { maxRequestLineBytes: 48, maxHeaderBytes: 160, maxBodyBytes: 64 };
const ERROR_STATUSES = new Set([400, 413, 414, 417, 431, 501, 505]);
// Enough cases to find framing slips, few enough that the file runs in a few seconds.
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);

// ---------------------------------------------------------------------------------------------
// Driving the parser

/** An event as plain data, comparable with deepStrictEqual. */
type Observed =
  | { readonly type: 'head'; readonly head: PlainHead }
  | { readonly type: 'request'; readonly head: PlainHead; readonly body: string | null }
  | { readonly type: 'error'; readonly status: number };

type PlainHead = Omit<RequestHead, 'headers'> & { readonly headers: Record<string, string> };

function plainHead(head: RequestHead): PlainHead {
  return {
    method: head.method,
    target: head.target,
    version: head.version,
    headers: { ...head.headers },
    framing: head.framing,
    keepAlive: head.keepAlive,
    expectContinue: head.expectContinue,
  };
}

function observe(event: Exclude<ParseEvent, { type: 'need-more' }>): Observed {
  switch (event.type) {
    case 'head':
      return { type: 'head', head: plainHead(event.head) };
    case 'request':
      return { type: 'request', head: plainHead(event.request), body: event.request.body === null ? null : Buffer.from(event.request.body).toString('hex') };
    case 'error':
      return { type: 'error', status: refusalStatus(event.refusal) };
  }
}

interface Run {
  readonly events: Observed[];
  readonly requests: ParsedRequest[];
}

/**
 * Feeds the chunks as a connection would: after each, reads events until the parser wants
 * more bytes; stops at the first error. Fails the property if `next()` throws, returns an
 * unknown event or never asks for more bytes.
 */
function run(chunks: readonly Buffer[], limits: ParserLimits): Run {
  const parser = new RequestParser(limits);
  const events: Observed[] = [];
  const requests: ParsedRequest[] = [];
  for (const chunk of chunks) {
    parser.feed(chunk);
    // Each event consumes bytes, so there can never be more events than bytes (plus one).
    for (let guard = 0; ; guard++) {
      assert.ok(guard <= chunk.length + 1, 'parser keeps returning events without consuming bytes');
      const event = parser.next();
      if (event.type === 'need-more') break;
      assert.ok(['head', 'request', 'error'].includes(event.type), `unknown event ${event.type}`);
      events.push(observe(event));
      if (event.type === 'request') requests.push(event.request);
      if (event.type === 'error') {
        assert.ok(ERROR_STATUSES.has(refusalStatus(event.refusal)), `error status ${refusalStatus(event.refusal)}`);
        assert.ok(event.detail.length > 0, 'an error has a detail');
        // A failed parser is finished: nothing more comes out, whatever is fed.
        parser.feed(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
        assert.deepEqual(parser.next(), { type: 'need-more' });
        return { events, requests };
      }
    }
  }
  return { events, requests };
}

/** Cuts `bytes` at the given offsets (taken modulo its length). */
function split(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const point of [...points, bytes.length]) {
    // Copies, so that no chunk shares memory with another (as socket reads would not).
    chunks.push(Buffer.from(bytes.subarray(at, point)));
    at = point;
  }
  return chunks;
}

function byteByByte(bytes: Buffer): Buffer[] {
  return Array.from(bytes, (byte) => Buffer.of(byte));
}

// ---------------------------------------------------------------------------------------------
// Valid requests: a generator and the request each one must parse to

const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
/** Names with framing or connection meaning are set on purpose below, never at random. */
const RESERVED = new Set(['content-length', 'transfer-encoding', 'host', 'expect', 'connection']);

const charOf = (arb: fc.Arbitrary<number>): fc.Arbitrary<string> => arb.map((code) => String.fromCharCode(code));
const token = fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength: 12 });
const method = fc.oneof(fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'), token);
// Visible ASCII but "#": a fragment is never part of a request target.
const target = fc.string({ unit: charOf(fc.integer({ min: 0x21, max: 0x7e }).filter((code) => code !== 0x23)), maxLength: 40 }).map((rest) => `/${rest}`);
/** VCHAR and obs-text with spaces and tabs inside; RFC 9110 §5.5. */
const fieldValue = fc
  .string({ unit: charOf(fc.oneof(fc.integer({ min: 0x21, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constantFrom(0x20, 0x09))), maxLength: 30 })
  .map((value) => value.replace(/^[ \t]+|[ \t]+$/g, ''));
/** Optional whitespace around a field value, which the parser must strip. */
const ows = fc.constantFrom('', ' ', '\t', '  ', ' \t ');
const headerName = token.filter((name) => !RESERVED.has(name.toLowerCase()));
const field = fc.record({ name: headerName, value: fieldValue, before: ows, after: ows });
// RFC 9112 §7.1.1 without BWS, which the parser refuses as llhttp does.
const chunkExtension = fc.constantFrom('', ';a', ';a=b', ';name="quoted value"', ';x=1;y=2', ';ext="v\\"\t\xe9"');

const body = fc.uint8Array({ minLength: 1, maxLength: 48 });
const framing = fc.oneof(
  fc.record({ kind: fc.constant('none' as const) }),
  fc.record({ kind: fc.constant('length' as const), body: fc.oneof(body, fc.constant(new Uint8Array(0))) }),
  fc.record({
    kind: fc.constant('chunked' as const),
    chunks: fc.array(fc.record({ bytes: body, extension: chunkExtension, upper: fc.boolean() }), { maxLength: 4 }),
    lastChunk: fc.constantFrom('0', '000', '0;end'),
    trailers: fc.array(field, { maxLength: 2 }),
  }),
);

const requestSpec = fc
  .record({
    method,
    target,
    version: fc.constantFrom('1.1', '1.0'),
    host: fc.option(fieldValue.filter((value) => value !== ''), { nil: undefined }),
    connection: fc.constantFrom(undefined, 'close', 'keep-alive', 'Keep-Alive, Upgrade'),
    expectContinue: fc.boolean(),
    fields: fc.array(field, { maxLength: 5 }),
    framing,
  })
  // Chunked framing exists only in HTTP/1.1.
  .filter((spec) => spec.version === '1.1' || spec.framing.kind !== 'chunked');

type RequestSpec = typeof requestSpec extends fc.Arbitrary<infer T> ? T : never;

interface Generated {
  readonly bytes: Buffer;
  /** The events the parser must produce for these bytes. */
  readonly expected: Observed[];
}

function chunkedBody(spec: Extract<RequestSpec['framing'], { kind: 'chunked' }>): string {
  let text = '';
  for (const chunk of spec.chunks) {
    const size = chunk.bytes.length.toString(16);
    text += `${chunk.upper ? size.toUpperCase() : size}${chunk.extension}\r\n${Buffer.from(chunk.bytes).toString('latin1')}\r\n`;
  }
  text += `${spec.lastChunk}\r\n`;
  for (const trailer of spec.trailers) text += `${trailer.name}:${trailer.before}${trailer.value}${trailer.after}\r\n`;
  return `${text}\r\n`;
}

/** The request's bytes and the events it must parse to. */
function build(spec: RequestSpec): Generated {
  const lines: string[] = [];
  // No prototype: names like "constructor" or "__proto__" are ordinary header names.
  const headers: Record<string, string> = Object.create(null);
  const add = (name: string, value: string, written = value): void => {
    lines.push(`${name}:${written}`);
    const key = name.toLowerCase();
    // Repeated fields join with ", ", or just "," before an empty value (no trailing space).
    const previous = headers[key];
    headers[key] = previous === undefined ? value : value === '' ? `${previous},` : `${previous}, ${value}`;
  };
  if (spec.host !== undefined) add('Host', spec.host, ` ${spec.host}`);
  for (const { name, value, before, after } of spec.fields) add(name, value, `${before}${value}${after}`);
  if (spec.connection !== undefined) add('Connection', spec.connection, ` ${spec.connection}`);

  let bodyBytes: Uint8Array | null = null;
  let bodyText = '';
  let parsedFraming: RequestHead['framing'] = { kind: 'none' };
  const { framing: frame } = spec;
  if (frame.kind === 'length') {
    const length = String(frame.body.length);
    lines.push(`Content-Length: ${length}`);
    headers['content-length'] = length;
    bodyBytes = frame.body;
    bodyText = Buffer.from(frame.body).toString('latin1');
    parsedFraming = { kind: 'length', length: frame.body.length };
  } else if (frame.kind === 'chunked') {
    add('Transfer-Encoding', 'chunked', ' chunked');
    bodyBytes = Buffer.concat(frame.chunks.map((chunk) => chunk.bytes));
    bodyText = chunkedBody(frame);
    parsedFraming = { kind: 'chunked' };
  }
  const hasBody = frame.kind !== 'none';
  if (spec.expectContinue) add('Expect', '100-continue', ' 100-continue');

  const options = (spec.connection ?? '').toLowerCase().split(',').map((option) => option.trim());
  const head: PlainHead = {
    method: spec.method,
    target: spec.target,
    version: spec.version as '1.0' | '1.1',
    headers: { ...headers },
    framing: parsedFraming,
    keepAlive: !options.includes('close') && (spec.version === '1.1' || options.includes('keep-alive')),
    expectContinue: spec.expectContinue && hasBody,
  };
  const text = `${spec.method} ${spec.target} HTTP/${spec.version}\r\n${lines.map((line) => `${line}\r\n`).join('')}\r\n${bodyText}`;
  const bodyHex = bodyBytes === null ? null : Buffer.from(bodyBytes).toString('hex');
  // A request with a body announces its head first, unless the body is empty by Content-Length.
  const announcesHead = frame.kind === 'chunked' || (frame.kind === 'length' && frame.body.length > 0);
  const expected: Observed[] = announcesHead ? [{ type: 'head', head }] : [];
  expected.push({ type: 'request', head, body: bodyHex });
  return { bytes: Buffer.from(text, 'latin1'), expected };
}

/** Up to three requests back to back on one connection (pipelining). */
const pipeline = fc.array(requestSpec, { minLength: 1, maxLength: 3 }).map((specs) => {
  const built = specs.map(build);
  return { bytes: Buffer.concat(built.map((one) => one.bytes)), expected: built.flatMap((one) => one.expected) };
});

// ---------------------------------------------------------------------------------------------
// Hostile inputs: random bytes, HTTP-shaped token soup, and valid requests with edits

const FRAGMENTS = [
  'GET', 'POST', ' ', '  ', '/', '/a?b', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', '\r\n', '\r', '\n', '\r\n\r\n', ':', ': ', '\t', '\0', '\x7f', '\xff',
  'Host: h', 'Content-Length: ', 'Content-Length: 5', 'Content-Length: +5', 'Content-Length: 5, 6', 'Transfer-Encoding: chunked',
  'Transfer-Encoding: chunked, identity', 'Transfer-Encoding: xchunked', 'Expect: 100-continue', 'Connection: close',
  '0', '5', 'a', 'ffffffffffffffffff', ';ext=1', '0\r\n\r\n', '5\r\nhello\r\n', 'hello', 'X: y',
];

const fragmentSoup = fc
  .array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ unit: 'binary-ascii', maxLength: 4 })), { maxLength: 40 })
  .map((parts) => Buffer.from(parts.join(''), 'latin1'));

type Edit = { readonly at: number; readonly kind: 'flip' | 'delete' | 'insert' | 'duplicate'; readonly value: number; readonly text: string };
const edit: fc.Arbitrary<Edit> = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('flip', 'delete', 'insert', 'duplicate'),
  value: fc.integer({ min: 0, max: 255 }),
  text: fc.constantFrom(...FRAGMENTS),
});

function applyEdit(bytes: Buffer, { at, kind, value, text }: Edit): Buffer {
  const i = at % (bytes.length + 1);
  switch (kind) {
    case 'flip': {
      const copy = Buffer.from(bytes);
      if (i < copy.length) copy[i] = value;
      return copy;
    }
    case 'delete':
      return Buffer.concat([bytes.subarray(0, i), bytes.subarray(Math.min(bytes.length, i + 1 + (value % 8)))]);
    case 'insert':
      return Buffer.concat([bytes.subarray(0, i), Buffer.from(text, 'latin1'), bytes.subarray(i)]);
    case 'duplicate':
      return Buffer.concat([bytes.subarray(0, i), bytes.subarray(i, i + (value % 32)), bytes.subarray(i)]);
  }
}

const mutated = fc.tuple(pipeline, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([valid, edits]) => edits.reduce(applyEdit, valid.bytes));
const hostile = fc.oneof(fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)), fragmentSoup, mutated);
const cuts = fc.array(fc.nat(), { maxLength: 8 });

// ---------------------------------------------------------------------------------------------
// Serialising a parsed request

function serialize(request: ParsedRequest): Buffer {
  let head = `${request.method} ${request.target} HTTP/${request.version}\r\n`;
  for (const [name, value] of Object.entries(request.headers)) head += `${name}: ${value}\r\n`;
  head += '\r\n';
  const body = request.body ?? new Uint8Array(0);
  if (request.framing.kind !== 'chunked') return Buffer.concat([Buffer.from(head, 'latin1'), body]);
  const chunk = body.length > 0 ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n')]) : Buffer.alloc(0);
  return Buffer.concat([Buffer.from(head, 'latin1'), chunk, Buffer.from('0\r\n\r\n')]);
}

/** Re-parsed with roomy limits: the canonical form may be a few bytes longer than the original. */
function assertRoundTrip(requests: readonly ParsedRequest[]): void {
  for (const request of requests) {
    const again = run([serialize(request)], ROOMY).events.filter((event) => event.type !== 'head');
    const original = observe({ type: 'request', request });
    assert.deepStrictEqual(again, [original]);
  }
}

// ---------------------------------------------------------------------------------------------
// Properties

test('hostile bytes never throw out of next(): only head, request, need-more or a 4xx/5xx error', () => {
  fc.assert(
    fc.property(hostile, cuts, fc.constantFrom(ROOMY, TIGHT), (bytes, at, limits) => {
      run([bytes], limits);
      run(split(bytes, at), limits);
    }),
    { numRuns: RUNS * 5 },
  );
});

test('hostile bytes parse the same way however they are split', () => {
  fc.assert(
    fc.property(hostile, cuts, fc.constantFrom(ROOMY, TIGHT), (bytes, at, limits) => {
      const whole = run([bytes], limits).events;
      assert.deepStrictEqual(run(split(bytes, at), limits).events, whole);
      assert.deepStrictEqual(run(byteByByte(bytes), limits).events, whole);
    }),
    { numRuns: RUNS * 2 },
  );
});

test('valid requests parse to exactly what was sent, however the bytes are split', () => {
  fc.assert(
    fc.property(pipeline, cuts, ({ bytes, expected }, at) => {
      assert.deepStrictEqual(run([bytes], ROOMY).events, expected);
      assert.deepStrictEqual(run(split(bytes, at), ROOMY).events, expected);
      assert.deepStrictEqual(run(byteByByte(bytes), ROOMY).events, expected);
    }),
    { numRuns: RUNS },
  );
});

test('a parsed request, serialised and parsed again, is the same request', () => {
  fc.assert(
    fc.property(pipeline, ({ bytes }) => assertRoundTrip(run([bytes], ROOMY).requests)),
    { numRuns: RUNS },
  );
});

test('whatever hostile bytes the parser accepts also round-trips', () => {
  fc.assert(
    fc.property(hostile, fc.constantFrom(ROOMY, TIGHT), (bytes, limits) => assertRoundTrip(run([bytes], limits).requests)),
    { numRuns: RUNS * 2 },
  );
});
