import assert from 'node:assert/strict';
import { test } from 'node:test';
import { advance, closesWhenAnswered, hasEnded, type Lifecycle } from '../../../src/http/connection-lifecycle.js';

const IN_ORDER: readonly Lifecycle[] = ['serving', 'draining', 'client-ended', 'ended', 'closed'];

test('the lifecycle moves only forward: a move to an earlier or the same state leaves it where it is', () => {
  for (const [i, from] of IN_ORDER.entries()) {
    for (const [j, to] of IN_ORDER.entries()) assert.equal(advance(from, to), j > i ? to : from, `${from} -> ${to}`);
  }
});

test('a client that sends FIN during a drain leaves the connection client-ended; a drain after its FIN changes nothing', () => {
  assert.equal(advance('draining', 'client-ended'), 'client-ended');
  assert.equal(advance('client-ended', 'draining'), 'client-ended');
});

test('once our side is closed nothing more is read or written', () => {
  assert.deepEqual(IN_ORDER.filter(hasEnded), ['ended', 'closed']);
});

test('a draining or client-ended connection closes once it has answered what it has; a serving one stays open', () => {
  assert.deepEqual(IN_ORDER.filter(closesWhenAnswered), ['draining', 'client-ended']);
});
