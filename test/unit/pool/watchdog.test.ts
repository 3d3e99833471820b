import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JobWatch, PoolClock, queueExpired } from '../../../src/pool/watchdog.js';

/** A monotonic source the test moves by hand. */
function manualTime(): { at: number; read: () => number } {
  const time = { at: 1000, read: () => time.at };
  return time;
}

describe('PoolClock', () => {
  test('ticks every quarter of the job timeout, never more often than every 10 ms nor less than every second', () => {
    assert.equal(new PoolClock(400).interval, 100);
    assert.equal(new PoolClock(30).interval, 10);
    assert.equal(new PoolClock(60_000).interval, 1000);
  });

  test('follows the monotonic time while the ticks come on time, or late by less than an interval', () => {
    const time = manualTime();
    const clock = new PoolClock(400, time.read);
    clock.start();
    const origin = clock.now();
    for (const step of [100, 100, 150, 199]) {
      time.at += step;
      clock.tick();
    }
    assert.equal(clock.now() - origin, 549);
  });

  test('leaves out what a tick more than an interval late was late by: the main thread stood still', () => {
    const time = manualTime();
    const clock = new PoolClock(400, time.read);
    clock.start();
    const origin = clock.now();
    time.at += 2600; // due after 100 ms, so 2500 ms late
    clock.tick();
    assert.equal(clock.now() - origin, 100);
    time.at += 100;
    clock.tick();
    assert.equal(clock.now() - origin, 200);
  });

  test('counts no stall for the time before the ticks start (the workers starting)', () => {
    const time = manualTime();
    const clock = new PoolClock(400, time.read);
    time.at += 5000;
    clock.start();
    const origin = clock.now();
    time.at += 100;
    clock.tick();
    assert.equal(clock.now() - origin, 100);
    assert.equal(clock.now(), time.at);
  });
});

describe('JobWatch', () => {
  test('a batch whose count of started jobs does not move is overdue once the limit has passed since it was posted', () => {
    const watch = new JobWatch();
    watch.reset(0);
    assert.equal(watch.overdue(0, 250, 300), null);
    assert.equal(watch.overdue(0, 300, 300), 300);
  });

  test('the limit applies to each job: every job that starts restarts the count', () => {
    const watch = new JobWatch();
    watch.reset(0);
    // Three jobs starting 250 ms apart under a 400 ms limit, looked at every 100 ms.
    for (let now = 100; now <= 800; now += 100) assert.equal(watch.overdue(Math.min(3, 1 + Math.floor(now / 250)), now, 400), null, `at ${now} ms`);
    // The third job, seen starting at 500 ms, runs on.
    assert.equal(watch.overdue(3, 850, 400), null);
    assert.equal(watch.overdue(3, 900, 400), 400);
  });

  test('a job seen starting is timed from that sight, not from when the batch was posted', () => {
    const watch = new JobWatch();
    watch.reset(0);
    assert.equal(watch.overdue(1, 290, 300), null);
    assert.equal(watch.overdue(1, 580, 300), null);
    assert.equal(watch.overdue(1, 590, 300), 300);
  });

  test('a new batch starts from nothing, whatever the last one reached', () => {
    const watch = new JobWatch();
    watch.reset(0);
    assert.equal(watch.overdue(5, 100, 300), null);
    watch.reset(200);
    assert.equal(watch.overdue(0, 400, 300), null);
    assert.equal(watch.overdue(0, 500, 300), 300);
  });

  test('with the pool clock, a job running when the main thread stands still past the limit is not overdue', () => {
    const time = manualTime();
    const clock = new PoolClock(1000, time.read);
    clock.start();
    const watch = new JobWatch();
    watch.reset(clock.now());
    time.at += 250;
    clock.tick();
    assert.equal(watch.overdue(1, clock.now(), 1000), null);
    time.at += 2750; // the tick due 250 ms later comes 2500 ms late
    clock.tick();
    assert.equal(watch.overdue(1, clock.now(), 1000), null);
  });
});

describe('queueExpired', () => {
  test('a job expires once it has waited the limit, not before', () => {
    assert.equal(queueExpired(100, 399, 300), false);
    assert.equal(queueExpired(100, 400, 300), true);
  });
});
