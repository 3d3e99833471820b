// From a decision to the response fields a client reads: status, Content-Range, Content-Length
// and which of the representation's fields go along.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConditionalHeaders, Representation } from '../../../src/core/job.js';
import type { HeaderList, ResponseBody } from '../../../src/core/response.js';
import { entityTag } from '../../../src/handlers/conditional.js';
import { respondWith, type BodyReader } from '../../../src/handlers/representation.js';

const MTIME = Date.UTC(2024, 4, 6, 7, 8, 9);
const ETAG = entityTag(10, MTIME);
const VALIDATORS: HeaderList = [['ETag', ETAG], ['Last-Modified', new Date(MTIME).toUTCString()], ['Vary', 'Accept-Encoding']];
const REPRESENTATION: Representation = {
  headers: [['Content-Type', 'text/plain'], ['Accept-Ranges', 'bytes'], ...VALIDATORS],
  validators: VALIDATORS,
  facts: { size: 10, mtimeMs: MTIME, etag: ETAG, ino: 1, ctimeMs: MTIME },
};

/** A reader that records what it was asked for. */
function recorder(): { read: BodyReader; asked: Array<[number, number]> } {
  const asked: Array<[number, number]> = [];
  const read = (start: number, length: number): ResponseBody => {
    asked.push([start, length]);
    return { kind: 'bytes', bytes: new Uint8Array(length) };
  };
  return { read, asked };
}

const field = (headers: HeaderList, name: string): string | undefined => headers.find(([key]) => key === name)?.[1];
const answer = (method: 'GET' | 'HEAD', conditions: ConditionalHeaders, read: BodyReader = recorder().read) => respondWith(method, conditions, REPRESENTATION, read);

test('206: Content-Range names the bytes and the size; Content-Length is the range length; the reader is asked for just those bytes', () => {
  const { read, asked } = recorder();
  const response = answer('GET', { range: 'bytes=2-5' }, read);
  assert.equal(response.status, 206);
  assert.equal(field(response.headers, 'Content-Range'), 'bytes 2-5/10');
  assert.equal(field(response.headers, 'ETag'), ETAG);
  assert.equal(response.contentLength, 4);
  assert.deepEqual(asked, [[2, 4]]);
  // One byte: the first and last byte are the same.
  assert.equal(answer('GET', { range: 'bytes=9-9' }).contentLength, 1);
});

test('a HEAD gets the whole representation, whatever the Range, without reading it', () => {
  const { read, asked } = recorder();
  const response = answer('HEAD', { range: 'bytes=2-5' }, read);
  assert.deepEqual([response.status, response.contentLength, response.body, asked], [200, 10, { kind: 'none' }, []]);
});

test('416: Content-Range bytes */size, the Vary field and no validators', () => {
  const { read, asked } = recorder();
  const response = answer('GET', { range: 'bytes=10-' }, read);
  assert.equal(response.status, 416);
  assert.equal(field(response.headers, 'Content-Range'), 'bytes */10');
  assert.equal(field(response.headers, 'Vary'), 'Accept-Encoding');
  assert.equal(field(response.headers, 'ETag'), undefined);
  assert.equal(field(response.headers, 'Content-Type'), 'text/html; charset=utf-8', 'the error page, not the file');
  assert.deepEqual(asked, []);
});

test('412 carries the Vary field alone; 304 the validators and no Content-Length', () => {
  const failed = answer('GET', { ifMatch: '"other"' });
  assert.equal(failed.status, 412);
  assert.equal(field(failed.headers, 'Vary'), 'Accept-Encoding');
  assert.equal(field(failed.headers, 'ETag'), undefined);
  const unchanged = answer('GET', { ifNoneMatch: ETAG });
  assert.deepEqual([unchanged.status, unchanged.headers, unchanged.contentLength, unchanged.body], [304, VALIDATORS, null, { kind: 'none' }]);
});

test('200: the whole file from its first byte', () => {
  const { read, asked } = recorder();
  const response = answer('GET', {}, read);
  assert.deepEqual([response.status, response.headers, response.contentLength, asked], [200, REPRESENTATION.headers, 10, [[0, 10]]]);
});
