// The rate-limited log: one line per interval, the burst's size told within the interval.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { ConditionLogs, RateLimitedLog } from '../../src/log.js';

test('the first of a burst is written at once; the last one held back when the interval ends, with how many others were held', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 10_000 });
  // The limiter reads the monotonic clock, which mock timers leave alone: it follows theirs here.
  t.mock.method(performance, 'now', () => Date.now());
  const lines: Array<[string, number]> = [];
  const log = new RateLimitedLog(1000);
  const message = (name: string) => (suppressed: number) => lines.push([name, suppressed]);
  log.maybe(message('a'));
  t.mock.timers.tick(300);
  for (const name of ['b', 'c', 'd']) log.maybe(message(name));
  assert.deepEqual(lines, [['a', 0]]);
  t.mock.timers.tick(700);
  assert.deepEqual(lines, [['a', 0], ['d', 2]], 'at the end of the interval, not at the next burst');
  // Within a second of that line, the next is held again; a quiet second later, one goes at once.
  log.maybe(message('e'));
  t.mock.timers.tick(1000);
  assert.deepEqual(lines.at(-1), ['e', 0]);
  t.mock.timers.tick(5000);
  log.maybe(message('f'));
  assert.deepEqual(lines.at(-1), ['f', 0]);
  assert.equal(lines.length, 4);
});

test('conditions named by file keep the map bounded, and logging goes on after it is cleared', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 10_000 });
  t.mock.method(performance, 'now', () => Date.now());
  const lines: Array<[string, number]> = [];
  const logs = new ConditionLogs(1000);
  const say = (condition: string) => logs.of(condition).maybe((suppressed) => lines.push([condition, suppressed]));
  say('stale (/root/page-0.html)');
  say('stale (/root/page-0.html)');
  let most = 0;
  for (let file = 1; file <= 1000; file++) {
    say(`stale (/root/page-${file}.html)`);
    most = Math.max(most, logs.size);
  }
  assert.ok(most <= 64, `${most} conditions remembered`);
  assert.equal(lines.length, 1001, 'each file\'s first line written at once, cleared or not');
  t.mock.timers.tick(1000);
  assert.deepEqual(lines.at(-1), ['stale (/root/page-0.html)', 0], 'a line held back by a limiter since dropped is still written');
  // Forgotten by the clear: the condition starts again, its first line at once and the next held.
  say('stale (/root/page-0.html)');
  say('stale (/root/page-0.html)');
  assert.deepEqual(lines.at(-1), ['stale (/root/page-0.html)', 0]);
  assert.equal(lines.length, 1003);
  t.mock.timers.tick(1000);
  assert.equal(lines.length, 1004);
});
