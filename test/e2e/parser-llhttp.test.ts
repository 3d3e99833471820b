// Differential test of the request parser against Node's own, llhttp, in its default strict
// mode. A seeded generator mutates valid requests (Content-Length and chunked bodies, chunk
// extensions, trailers, pipelined pairs); each result is judged by our parser, fed in random
// pieces, and by a node:http server on 127.0.0.1 that receives the same bytes over a socket.
// The property: whatever llhttp refuses, ours refuses too; whatever both accept, both frame the
// same way (the same requests with the same body lengths, ending in the same state). Ours may be
// stricter. Replay a failure with PARSER_LLHTTP_SEED=<seed> (PARSER_LLHTTP_RUNS for more cases);
// counterexamples found so far are unit tests in test/unit/parser.test.ts.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, METHODS, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { RequestParser, type ParserLimits } from '../../src/http/parser.js';

const SEED = Number(process.env.PARSER_LLHTTP_SEED ?? 20261205);
// One exchange over loopback takes about a millisecond: a few seconds in all.
const RUNS = Number(process.env.PARSER_LLHTTP_RUNS ?? 1500);
const LIMITS: ParserLimits = { maxRequestLineBytes: 8192, maxHeaderBytes: 8192, maxBodyBytes: 1 << 20 };

// ---------------------------------------------------------------------------------------------
// How a parser framed the bytes

/**
 * `refused`: an error; `closed`: the connection stops reading after a request that closes it
 * (llhttp: HPE_CLOSED_CONNECTION); `incomplete`: the bytes end inside a request.
 */
type End = 'refused' | 'closed' | 'incomplete' | 'complete';
interface Framing {
  /** Body lengths of the complete requests, in order. */
  readonly bodies: readonly number[];
  readonly end: End;
}

function judgeOurs(bytes: Buffer, pieceSizes: readonly number[]): Framing {
  const parser = new RequestParser(LIMITS);
  const bodies: number[] = [];
  let at = 0;
  for (let piece = 0; at < bytes.length; piece++) {
    const size = 1 + (pieceSizes[piece % pieceSizes.length] ?? bytes.length);
    parser.feed(bytes.subarray(at, at + size));
    at += size;
    for (let event = parser.next(); event.type !== 'need-more'; event = parser.next()) {
      if (event.type === 'error') return { bodies, end: 'refused' };
      // llhttp knows only its own list of methods; ours leaves the method to the router (405).
      // Past an unknown method the two cannot be compared: count it as ours stopping there.
      if (!METHODS.includes(event.type === 'head' ? event.head.method : event.request.method)) return { bodies, end: 'refused' };
      if (event.type !== 'request') continue;
      bodies.push(event.request.body?.length ?? 0);
      // The connection reads nothing after a request that closes it.
      if (!event.request.keepAlive) return { bodies, end: 'closed' };
    }
  }
  return { bodies, end: parser.inRequest ? 'incomplete' : 'complete' };
}

/** A node:http server that notes, per connection, the requests it completes and its first error. */
class Llhttp {
  private readonly seen = new WeakMap<Socket, { bodies: number[]; error?: string }>();
  private readonly closed = new Map<number, Promise<Framing>>();

  private constructor(private readonly server: Server) {
    // Host is checked by the connection, not the parser: leave it to the parser's judgement here.
    server.on('request', (request: IncomingMessage, response) => {
      const note = this.seen.get(request.socket)!;
      let length = 0;
      request.on('data', (data: Buffer) => (length += data.length));
      request.on('end', () => {
        note.bodies.push(length);
        response.end();
      });
    });
    server.on('checkExpectation', (request: IncomingMessage, response) => {
      this.seen.get(request.socket)!.error ??= 'unsupported expectation';
      response.writeHead(417).end();
      request.socket.end();
    });
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
      const note = this.seen.get(socket);
      if (note !== undefined) note.error ??= error.code ?? error.message;
      socket.end();
    });
    server.on('connection', (socket: Socket) => {
      const note: { bodies: number[]; error?: string } = { bodies: [] };
      this.seen.set(socket, note);
      const framing = once(socket, 'close')
        .then(() => nextTurn())
        .then(() => ({ bodies: note.bodies, end: llhttpEnd(note.error) }));
      this.closed.set(socket.remotePort!, framing);
    });
  }

  static async start(): Promise<Llhttp> {
    const server = createServer({ requireHostHeader: false });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new Llhttp(server);
  }

  /** Sends the bytes on a new connection, half-closes it and waits for the server to close. */
  async judge(bytes: Buffer): Promise<Framing> {
    const client = connect((this.server.address() as AddressInfo).port, '127.0.0.1');
    client.on('error', () => {});
    client.resume();
    await once(client, 'connect');
    client.end(bytes);
    try {
      for (let turn = 0; !this.closed.has(client.localPort!); turn++) {
        assert.ok(turn < 1000, 'the server never saw the connection');
        await nextTurn();
      }
      const framing = this.closed.get(client.localPort!)!;
      return await Promise.race([framing, timeout(5000, 'node:http did not close the connection')]);
    } finally {
      this.closed.delete(client.localPort!);
      client.destroy();
    }
  }

  async stop(): Promise<void> {
    this.server.close();
    this.server.closeAllConnections();
    await once(this.server, 'close');
  }
}

function llhttpEnd(error: string | undefined): End {
  if (error === undefined) return 'complete';
  if (error === 'HPE_INVALID_EOF_STATE') return 'incomplete';
  if (error === 'HPE_CLOSED_CONNECTION') return 'closed';
  return 'refused';
}

async function timeout(ms: number, message: string): Promise<never> {
  await new Promise((resolve) => setTimeout(resolve, ms).unref());
  throw new Error(message);
}

/** The property: ours refuses whatever llhttp refuses, and frames alike whatever both accept. */
function assertNoMoreLenient(ours: Framing, theirs: Framing, bytes: Buffer): void {
  const what = `${JSON.stringify(bytes.toString('latin1'))}\n  ours:   ${JSON.stringify(ours)}\n  llhttp: ${JSON.stringify(theirs)}`;
  const servedFirst = (): void => assert.deepEqual(ours.bodies, theirs.bodies.slice(0, ours.bodies.length), `served differently: ${what}`);
  if (ours.end === 'refused' || ours.end === 'closed') {
    // Stopping early is allowed; what ours served until then must be what llhttp served.
    servedFirst();
  } else if (ours.end === 'incomplete') {
    // Ours judges a line once it is whole, llhttp byte by byte: waiting for the rest of bytes
    // llhttp refused serves nothing. Otherwise both served the same requests.
    assert.notEqual(theirs.end, 'closed', `kept reading where llhttp closed the connection: ${what}`);
    if (theirs.end === 'refused') servedFirst();
    else assert.deepEqual(ours.bodies, theirs.bodies, `framed differently: ${what}`);
  } else {
    assert.deepEqual(ours, theirs, `framed differently or accepted what llhttp refuses: ${what}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Valid requests, as lines that mutations can work on

/** A line of a request (its ending apart) or a stretch of body bytes (`ending` empty). */
interface Segment {
  readonly kind: 'request-line' | 'field' | 'end-of-head' | 'chunk-size' | 'data' | 'trailer' | 'end-of-trailers';
  readonly text: string;
  readonly ending: string;
}

const line = (kind: Segment['kind'], text: string): Segment => ({ kind, text, ending: '\r\n' });

const SOME_METHODS = ['GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS'];
const TARGETS = ['/', '/upload', '/a/b.txt?x=1&y=%20', '/*'];
const FIELDS = ['Accept: */*', 'User-Agent: curl/8.0', 'X-Empty:', 'X-Tabs:\tv\t', 'Cookie: a=b; c=d', 'X-High: caf\xe9', 'Accept-Encoding: gzip, br'];
const EXTENSIONS = ['', ';a', ';a=b', ';name="quoted value"', ';x=1;y=2', ';q="\\"\t\xe9"'];
const TRAILERS = ['X-Checksum: abc', 'X-Empty:', 'Server-Timing: db;dur=53'];
/** Body bytes: letters, and bytes that look like framing. */
const bodyText = fc.string({ unit: fc.constantFrom('a', 'b', 'Z', '0', '\r', '\n', '\r\n', ';', ' ', '\xff'), minLength: 1, maxLength: 12 });

const chunk = fc.record({ data: bodyText, extension: fc.constantFrom(...EXTENSIONS), upper: fc.boolean() });
const body = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({ kind: fc.constant('length' as const), data: fc.oneof(bodyText, fc.constant('')) }),
  fc.record({
    kind: fc.constant('chunked' as const),
    chunks: fc.array(chunk, { maxLength: 3 }),
    last: fc.constantFrom('0', '000', '0;end'),
    trailers: fc.subarray(TRAILERS, { maxLength: 2 }),
  }),
);
const message = fc.record({
  method: fc.constantFrom(...SOME_METHODS),
  target: fc.constantFrom(...TARGETS),
  version: fc.constantFrom('1.1', '1.1', '1.1', '1.0'),
  host: fc.constantFrom('Host: 127.0.0.1:8080', 'Host: 127.0.0.1:8080', 'host:localhost', null),
  fields: fc.subarray(FIELDS, { maxLength: 2 }),
  connection: fc.constantFrom(null, null, 'Connection: close', 'Connection: keep-alive'),
  body,
});
type Message = typeof message extends fc.Arbitrary<infer T> ? T : never;

function segmentsOf(spec: Message): Segment[] {
  const fields = [spec.host, ...spec.fields, spec.connection].filter((field): field is string => field !== null);
  const segments = [line('request-line', `${spec.method} ${spec.target} HTTP/${spec.version}`)];
  const { body } = spec;
  if (body.kind === 'length') fields.push(`Content-Length: ${body.data.length}`);
  if (body.kind === 'chunked') fields.push('Transfer-Encoding: chunked');
  segments.push(...fields.map((field) => line('field', field)), line('end-of-head', ''));
  if (body.kind === 'length' && body.data !== '') segments.push({ kind: 'data', text: body.data, ending: '' });
  if (body.kind === 'chunked') {
    for (const { data, extension, upper } of body.chunks) {
      const size = data.length.toString(16);
      segments.push(line('chunk-size', `${upper ? size.toUpperCase() : size}${extension}`), line('data', data));
    }
    segments.push(line('chunk-size', body.last), ...body.trailers.map((trailer) => line('trailer', trailer)), line('end-of-trailers', ''));
  }
  return segments;
}

// ---------------------------------------------------------------------------------------------
// Mutations

const INSERTED = [' ', '\t', '\r', '\n', '\r\n', '\0', '\x0b', '\x7f', '\x80', '\xff', ',', ';', '"', '=', ':', '\\', 'a'];
const ENDINGS = ['\n', '\r', '\r\r\n', ' \r\n', '\t\r\n', '\r\n\r\n'];
const ADDED_FIELDS = [
  'Content-Length: 0', 'Content-Length: 1', 'Content-Length: 5', 'Content-Length: 5, 5', 'Content-Length: 05', 'Content-Length: +5', 'Content-Length:',
  'Transfer-Encoding: chunked', 'Transfer-Encoding: Chunked', 'Transfer-Encoding: identity', 'Transfer-Encoding: gzip, chunked', 'Transfer-Encoding: chunked, chunked',
  'Connection: close', 'Connection: keep-alive, close', 'Expect: 100-continue', 'Expect: 101-nothing', 'Host: other', 'Trailer: X-Checksum',
  'Authorization: Bearer x', 'Content-Type: application/json', 'TE: trailers', 'X:', 'X: a, b',
];
const SIZE_EDITS = [(size: string) => `${size} `, (size: string) => ` ${size}`, (size: string) => `0${size}`, (size: string) => `0x${size}`, (size: string) => `-${size}`,
  (size: string) => (parseInt(size, 16) + 1).toString(16), (size: string) => Math.max(0, parseInt(size, 16) - 1).toString(16), (size: string) => size.toUpperCase(), (size: string) => `${size}\t`];
const SET_EXTENSIONS = ['', ';', ';=x', ';a', ';a=', ';a=b', ' ;a', ';a ', '; a', ';a =b', ';a= b', ';a="x y"', ';a="x', ';a="\\\x01"', ';a=b c', ';a=\xe9', ';a="\xe9"', ';a=b;', ';a;;b', ';a="x"y', ';a=b,c', ';\x7f'];

/** The numbers a mutation draws (and fast-check shrinks): which line, where in it, which variant. */
interface Draw {
  readonly at: number;
  readonly pos: number;
  readonly pick: number;
}
type Mutate = (segments: readonly Segment[], draw: Draw) => Segment[];

const pickOne = <T>(items: readonly T[], n: number): T | undefined => items[n % Math.max(items.length, 1)];
const indexesOf = (segments: readonly Segment[], kinds: readonly Segment['kind'][]): number[] =>
  segments.flatMap((segment, index) => (kinds.includes(segment.kind) ? [index] : []));
const replaced = (segments: readonly Segment[], index: number, ...by: Segment[]): Segment[] => [...segments.slice(0, index), ...by, ...segments.slice(index + 1)];

/** Replaces one line of the given kinds, chosen by `at`, with what `edit` makes of it. */
function onLine(kinds: readonly Segment['kind'][], edit: (segment: Segment, draw: Draw) => Segment[]): Mutate {
  return (segments, draw) => {
    const index = pickOne(indexesOf(segments, kinds), draw.at);
    return index === undefined ? [...segments] : replaced(segments, index, ...edit(segments[index]!, draw));
  };
}

const onField = (edit: (segment: Segment, draw: Draw) => Segment[]): Mutate => onLine(['field', 'trailer'], edit);

/** Rewrites a chunk-size line from its size and extension. */
function onChunkSize(edit: (size: string, extension: string, pick: number) => string): Mutate {
  return onLine(['chunk-size'], (segment, { pick }) => {
    const semicolon = segment.text.indexOf(';') === -1 ? segment.text.length : segment.text.indexOf(';');
    return [{ ...segment, text: edit(segment.text.slice(0, semicolon), segment.text.slice(semicolon), pick) }];
  });
}

/** Adds a field line from ADDED_FIELDS before a line of the given kinds. */
function addLine(before: readonly Segment['kind'][], kind: Segment['kind']): Mutate {
  return onLine(before, (segment, { pick }) => [line(kind, pickOne(ADDED_FIELDS, pick)!), segment]);
}

function insertByte(text: string, { pos, pick }: Draw): string {
  const at = pos % (text.length + 1);
  return text.slice(0, at) + pickOne(INSERTED, pick)! + text.slice(at);
}

const MUTATIONS: Readonly<Record<string, Mutate>> = {
  duplicate: onField((field) => [field, field]),
  remove: onField(() => []),
  case: onField((field, { pick }) => {
    const colon = Math.max(field.text.indexOf(':'), 0);
    const name = field.text.slice(0, colon);
    return [{ ...field, text: (pick % 2 === 0 ? name.toUpperCase() : name.toLowerCase()) + field.text.slice(colon) }];
  }),
  insert: (segments, draw) => {
    const index = draw.at % segments.length;
    return replaced(segments, index, { ...segments[index]!, text: insertByte(segments[index]!.text, draw) });
  },
  ending: (segments, draw) => {
    const ended = segments.flatMap((segment, index) => (segment.ending === '' ? [] : [index]));
    const index = pickOne(ended, draw.at);
    return index === undefined ? [...segments] : replaced(segments, index, { ...segments[index]!, ending: pickOne(ENDINGS, draw.pick)! });
  },
  // Obsolete line folding (RFC 9112 §5.2): the value goes on over a line that starts with whitespace.
  fold: onField((field, { pos, pick }) => {
    const at = Math.max(field.text.indexOf(':') + 1, pos % (field.text.length + 1));
    return [{ ...field, text: `${field.text.slice(0, at)}\r\n${pick % 2 === 0 ? ' ' : '\t'}${field.text.slice(at)}` }];
  }),
  'add-field': addLine(['field', 'end-of-head'], 'field'),
  'add-trailer': addLine(['trailer', 'end-of-trailers'], 'trailer'),
  'chunk-size': onChunkSize((size, extension, pick) => pickOne(SIZE_EDITS, pick)!(size) + extension),
  extension: onChunkSize((size, _extension, pick) => size + pickOne(SET_EXTENSIONS, pick)!),
  truncate: (segments, { at, pos }) => {
    const index = at % segments.length;
    const segment = segments[index]!;
    return [...segments.slice(0, index), { ...segment, text: segment.text.slice(0, pos % (segment.text.length + 1)), ending: '' }];
  },
};
const mutation = fc.record({ kind: fc.constantFrom(...Object.keys(MUTATIONS)), at: fc.nat(), pos: fc.nat(), pick: fc.nat() });

/** One or two requests back to back, with up to three mutations anywhere in them. */
const mutatedRequests = fc
  .record({ messages: fc.array(message, { minLength: 1, maxLength: 2 }), mutations: fc.array(mutation, { maxLength: 3 }) })
  .map(({ messages, mutations }) => {
    const segments = mutations.reduce((lines, { kind, ...draw }) => MUTATIONS[kind]!(lines, draw), messages.flatMap(segmentsOf));
    return Buffer.from(segments.map((segment) => segment.text + segment.ending).join(''), 'latin1');
  });

// ---------------------------------------------------------------------------------------------

let llhttp: Llhttp;
before(async () => {
  llhttp = await Llhttp.start();
});
after(async () => {
  await llhttp.stop();
});

test('the judge itself: llhttp refuses, serves and frames as expected', async () => {
  const judged = async (text: string): Promise<Framing> => llhttp.judge(Buffer.from(text, 'latin1'));
  assert.deepEqual(await judged('POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab' + 'GET / HTTP/1.1\r\n\r\n'), { bodies: [2, 0], end: 'complete' });
  assert.deepEqual(await judged('POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\na'), { bodies: [], end: 'incomplete' });
  assert.deepEqual(await judged('GET / HTTP/1.1\r\nX : y\r\n\r\n'), { bodies: [], end: 'refused' });
  assert.deepEqual(await judged('GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n'), { bodies: [0], end: 'closed' });
  assert.deepEqual(await judged('POST / HTTP/1.1\r\nExpect: 101-nothing\r\nContent-Length: 1\r\n\r\na'), { bodies: [], end: 'refused' });
});

test('the property itself: serving what llhttp refuses, or framing otherwise, fails it', () => {
  const bytes = Buffer.from('x');
  assert.throws(() => assertNoMoreLenient({ bodies: [0], end: 'complete' }, { bodies: [], end: 'refused' }, bytes));
  assert.throws(() => assertNoMoreLenient({ bodies: [5], end: 'refused' }, { bodies: [4, 0], end: 'complete' }, bytes));
  assert.throws(() => assertNoMoreLenient({ bodies: [0], end: 'incomplete' }, { bodies: [0], end: 'closed' }, bytes));
  assertNoMoreLenient({ bodies: [4], end: 'refused' }, { bodies: [4, 0], end: 'complete' }, bytes);
  assertNoMoreLenient({ bodies: [], end: 'incomplete' }, { bodies: [], end: 'refused' }, bytes);
});

test(`mutated requests: whatever llhttp refuses is refused, the rest framed alike (seed ${SEED}, ${RUNS} cases)`, async () => {
  await fc.assert(
    fc.asyncProperty(mutatedRequests, fc.array(fc.nat({ max: 40 }), { minLength: 1, maxLength: 8 }), async (bytes, pieceSizes) => {
      assertNoMoreLenient(judgeOurs(bytes, pieceSizes), await llhttp.judge(bytes), bytes);
    }),
    { seed: SEED, numRuns: RUNS },
  );
});
