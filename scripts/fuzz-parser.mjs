#!/usr/bin/env node
// Long fuzz run of the request parser (the compiled dist/src/http/parser.js; run `npm run build`
// first). Feeds millions of inputs (random bytes, HTTP-shaped fragment soup, and valid requests
// with random edits) and checks, for each one:
//   - next() never throws and only returns need-more, head, request or a 4xx/5xx error;
//   - the parser always asks for more bytes in the end (no endless event loop);
//   - the events are the same whether the input arrives whole, in random pieces, or (for one
//     input in 16) one byte at a time;
//   - every request it accepts, serialised again, parses to the same request.
// Usage: node scripts/fuzz-parser.mjs [count=1000000] [--seed=N]
// Prints inputs/s and an outcome summary; on a failure, the seed, the input in hex and the reason.
import { RequestParser } from '../dist/src/http/parser.js';

const ROOMY = { maxRequestLineBytes: 8192, maxHeaderBytes: 8192, maxBodyBytes: 1 << 20 };
const TIGHT = { maxRequestLineBytes: 48, maxHeaderBytes: 160, maxBodyBytes: 64 };
const ERROR_STATUSES = new Set([400, 413, 414, 417, 431, 501, 505]);

function parseArgs(argv) {
  let count = 1_000_000;
  let seed = Date.now() >>> 0;
  for (const arg of argv) {
    if (arg.startsWith('--seed=')) seed = Number(arg.slice(7)) >>> 0;
    else if (/^\d+$/.test(arg)) count = Number(arg);
    else throw new Error(`unknown argument ${arg} (usage: fuzz-parser.mjs [count] [--seed=N])`);
  }
  return { count, seed };
}

/** mulberry32: small, fast and seedable, so any failure can be replayed. */
function prng(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// Input generators

const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const FRAGMENTS = [
  'GET', 'POST', 'HEAD', ' ', '  ', '/', '/a?b', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.10', '\r\n', '\r', '\n', '\r\n\r\n', ':', ': ',
  '\t', '\0', '\x01', '\x7f', '\xff', 'Host: h', 'Content-Length: ', 'Content-Length: 5', 'Content-Length: +5', 'Content-Length: 5, 6',
  'Content-Length: 5, 5', 'Content-Length: 99999999999999999', 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked, identity',
  'Transfer-Encoding: xchunked', 'Transfer-Encoding: gzip', 'Expect: 100-continue', 'Expect: x', 'Connection: close', ' folded',
  '0', '5', 'a', 'F', 'ffffffffffffffffff', '-1', ';ext=1', ';q="a b"', '0\r\n\r\n', '5\r\nhello\r\n', 'hello', 'X: y', 'X : y',
];

function makeGen(random) {
  const int = (n) => Math.floor(random() * n);
  const pick = (items) => items[int(items.length)];
  const chance = (p) => random() < p;
  const token = () => Array.from({ length: 1 + int(10) }, () => pick(TOKEN_CHARS)).join('');
  const visible = (max) => Array.from({ length: int(max + 1) }, () => String.fromCharCode(0x21 + int(94))).join('');
  const fieldValue = () => {
    const chars = Array.from({ length: int(20) }, () => (chance(0.1) ? pick([' ', '\t']) : chance(0.1) ? String.fromCharCode(0x80 + int(128)) : String.fromCharCode(0x21 + int(94))));
    return chars.join('').replace(/^[ \t]+|[ \t]+$/g, '');
  };
  const ows = () => pick(['', ' ', '\t', '  ']);
  const bytes = (max) => Buffer.from(Array.from({ length: int(max + 1) }, () => int(256)));

  /** A valid request, in text (latin1). */
  function validRequest() {
    const version = chance(0.8) ? '1.1' : '1.0';
    const lines = [`${chance(0.7) ? pick(['GET', 'POST', 'HEAD', 'PUT']) : token()} /${visible(30)} HTTP/${version}`];
    if (chance(0.9)) lines.push(`Host:${ows()}${visible(12) || 'h'}${ows()}`);
    for (let n = int(4); n > 0; n--) lines.push(`${token()}:${ows()}${fieldValue()}${ows()}`);
    if (chance(0.2)) lines.push(`Connection: ${pick(['close', 'keep-alive', 'Upgrade, close'])}`);
    const framing = version === '1.1' ? int(3) : int(2);
    let body = '';
    if (framing === 1) {
      body = bytes(40).toString('latin1');
      lines.push(`Content-Length:${ows()}${body.length}${ows()}`);
      if (chance(0.2)) lines.push(`content-length: ${body.length}`);
    } else if (framing === 2) {
      lines.push(`Transfer-Encoding: ${pick(['chunked', 'Chunked'])}`);
      for (let n = int(4); n > 0; n--) {
        const chunk = bytes(20).toString('latin1') || 'x';
        body += `${chunk.length.toString(16)}${pick(['', ';a', ';a=b', ' ;q="x y"'])}\r\n${chunk}\r\n`;
      }
      body += `${pick(['0', '00'])}\r\n${chance(0.3) ? `${token()}: ${fieldValue()}\r\n` : ''}\r\n`;
    }
    if (framing !== 0 && chance(0.1)) lines.push('Expect: 100-continue');
    return `${lines.join('\r\n')}\r\n\r\n${body}`;
  }

  function mutate(input) {
    let out = input;
    for (let n = 1 + int(4); n > 0; n--) {
      const at = int(out.length + 1);
      switch (int(4)) {
        case 0:
          out = Buffer.concat([out.subarray(0, at), Buffer.of(int(256)), out.subarray(at + 1)]);
          break;
        case 1:
          out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + int(8))]);
          break;
        case 2:
          out = Buffer.concat([out.subarray(0, at), Buffer.from(pick(FRAGMENTS), 'latin1'), out.subarray(at)]);
          break;
        default:
          out = Buffer.concat([out.subarray(0, at), out.subarray(at, at + int(32)), out.subarray(at)]);
      }
    }
    return out;
  }

  /** One input and a name for the kind, for the summary. */
  return function next() {
    const kind = int(10);
    if (kind < 2) return { kind: 'random', bytes: bytes(200) };
    if (kind < 4) {
      const parts = Array.from({ length: int(40) }, () => (chance(0.8) ? pick(FRAGMENTS) : bytes(3).toString('latin1')));
      return { kind: 'soup', bytes: Buffer.from(parts.join(''), 'latin1') };
    }
    const pipeline = Array.from({ length: 1 + int(3) }, validRequest).join('');
    const valid = Buffer.from(pipeline, 'latin1');
    return kind < 6 ? { kind: 'valid', bytes: valid } : { kind: 'mutated', bytes: mutate(valid) };
  };
}

// ---------------------------------------------------------------------------------------------
// Checks

class Failure extends Error {}

/** An event as one string: cheap to compare, and readable in a failure report. */
function plain(event) {
  if (event.type === 'error') return `error ${event.status}`;
  const head = event.type === 'head' ? event.head : event.request;
  const fields = [event.type, head.method, head.target, head.version, JSON.stringify(head.headers), JSON.stringify(head.framing), head.keepAlive, head.expectContinue];
  if (event.type === 'request') fields.push(event.request.body === null ? 'no body' : Buffer.from(event.request.body).toString('hex'));
  return fields.join(' | ');
}

/** Feeds the chunks as a connection would; returns the events and the accepted requests. */
function drive(chunks, limits) {
  const parser = new RequestParser(limits);
  const events = [];
  const requests = [];
  for (const chunk of chunks) {
    parser.feed(chunk);
    for (let guard = 0; ; guard++) {
      if (guard > chunk.length + 1) throw new Failure('parser keeps returning events without consuming bytes');
      let event;
      try {
        event = parser.next();
      } catch (error) {
        throw new Failure(`next() threw: ${error.stack}`);
      }
      if (event.type === 'need-more') break;
      if (event.type === 'error') {
        if (!ERROR_STATUSES.has(event.status) || !event.reason) throw new Failure(`bad error event ${JSON.stringify(event)}`);
        events.push(plain(event));
        return { events, requests };
      }
      if (event.type !== 'head' && event.type !== 'request') throw new Failure(`unknown event ${JSON.stringify(event)}`);
      events.push(plain(event));
      if (event.type === 'request') requests.push(event.request);
    }
  }
  return { events, requests };
}

function splitRandomly(bytes, random) {
  const chunks = [];
  let at = 0;
  while (at < bytes.length) {
    const size = 1 + Math.floor(random() * Math.min(64, bytes.length - at));
    chunks.push(Buffer.from(bytes.subarray(at, at + size)));
    at += size;
  }
  return chunks;
}

function serialize(request) {
  let head = `${request.method} ${request.target} HTTP/${request.version}\r\n`;
  for (const [name, value] of Object.entries(request.headers)) head += `${name}: ${value}\r\n`;
  const body = request.body ?? new Uint8Array(0);
  const parts = [Buffer.from(`${head}\r\n`, 'latin1')];
  if (request.framing.kind !== 'chunked') parts.push(body);
  else {
    if (body.length > 0) parts.push(Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n'));
    parts.push(Buffer.from('0\r\n\r\n'));
  }
  return Buffer.concat(parts);
}

function check(bytes, limits, random, byteByByte) {
  const whole = drive([bytes], limits);
  const pieces = drive(splitRandomly(bytes, random), limits);
  if (pieces.events.join('\n') !== whole.events.join('\n')) throw new Failure(`split parse differs:\n whole:  ${JSON.stringify(whole.events)}\n pieces: ${JSON.stringify(pieces.events)}`);
  if (byteByByte) {
    const single = drive(Array.from(bytes, (byte) => Buffer.of(byte)), limits);
    if (single.events.join('\n') !== whole.events.join('\n')) throw new Failure(`byte-by-byte parse differs:\n whole: ${JSON.stringify(whole.events)}\n bytes: ${JSON.stringify(single.events)}`);
  }
  for (const request of whole.requests) {
    const again = drive([serialize(request)], ROOMY).events.filter((event) => !event.startsWith('head'));
    if (again.length !== 1 || again[0] !== plain({ type: 'request', request })) throw new Failure(`round trip differs for ${serialize(request).toString('hex')}`);
  }
  const last = whole.events.at(-1);
  return last === undefined ? 'need-more' : last.startsWith('error') ? last : 'request';
}

// ---------------------------------------------------------------------------------------------

const { count, seed } = parseArgs(process.argv.slice(2));
const random = prng(seed);
const next = makeGen(random);
const outcomes = new Map();
const kinds = new Map();
const bump = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);
console.log(`fuzzing the parser with ${count} inputs, seed ${seed}`);
const started = performance.now();
let lastReport = started;
for (let n = 1; n <= count; n++) {
  const input = next();
  const limits = n % 2 === 0 ? ROOMY : TIGHT;
  try {
    bump(outcomes, check(input.bytes, limits, random, n % 16 === 0));
    bump(kinds, input.kind);
  } catch (error) {
    if (!(error instanceof Failure)) throw error;
    console.error(`FAIL at input ${n} (seed ${seed}, ${input.kind}, limits ${JSON.stringify(limits)}): ${error.message}`);
    console.error(`input (hex): ${input.bytes.toString('hex')}`);
    process.exit(1);
  }
  const now = performance.now();
  if (now - lastReport > 10_000) {
    lastReport = now;
    console.log(`  ${n} inputs, ${Math.round(n / ((now - started) / 1000))} inputs/s`);
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(`PASS: ${count} inputs in ${seconds.toFixed(1)} s, ${Math.round(count / seconds)} inputs/s`);
console.log(`inputs: ${[...kinds].map(([kind, n]) => `${kind} ${n}`).join(', ')}`);
console.log(`outcomes: ${[...outcomes].sort((a, b) => b[1] - a[1]).map(([outcome, n]) => `${outcome} ${n}`).join(', ')}`);
