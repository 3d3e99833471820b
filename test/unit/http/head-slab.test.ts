// One-piece heads cut from a shared slab: the bytes are the head's, and a head handed out is
// never overwritten by the ones after it, across a slab's end.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assembleHead } from '../../../src/http/head-slab.js';
import { newTraceId, type TraceId } from '../../../src/http/trace-context.js';

const START = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n', 'latin1');
const ENDING = Buffer.from('Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n', 'latin1');
const expected = (id: TraceId): string => `${START.toString('latin1')}X-Trace-Id: ${id}\r\n${ENDING.toString('latin1')}`;

describe('assembleHead', () => {
  test('start, the trace id field and the connection fields, in one buffer', () => {
    const id = newTraceId();
    assert.equal(assembleHead(START, id, '', ENDING).toString('latin1'), expected(id));
  });

  test('heads handed out stay intact while later ones fill several slabs', () => {
    const heads = Array.from({ length: 3000 }, () => {
      const id = newTraceId();
      return { id, head: assembleHead(START, id, '', ENDING) };
    });
    for (const { id, head } of heads) assert.equal(head.toString('latin1'), expected(id));
  });

  test('more field lines of the request go after the trace id', () => {
    const id = newTraceId();
    const cors = 'Access-Control-Allow-Origin: http://a.test\r\nVary: Origin\r\n';
    assert.equal(assembleHead(START, id, cors, ENDING).toString('latin1'), expected(id).replace(ENDING.toString('latin1'), cors + ENDING.toString('latin1')));
  });

  test('an outsized head gets a buffer of its own', () => {
    const big = Buffer.alloc(40_000, 'a');
    const id = newTraceId();
    const head = assembleHead(big, id, '', ENDING);
    assert.equal(head.length, big.length + `X-Trace-Id: ${id}\r\n`.length + ENDING.length);
    assert.ok(head.subarray(big.length).toString('latin1').startsWith(`X-Trace-Id: ${id}\r\n`));
  });
});
