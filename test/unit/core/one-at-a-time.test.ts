import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OneAtATime } from '../../../src/core/one-at-a-time.js';

/** An operation that runs until `release` is called, recording when it starts and ends. */
function held(name: string, events: string[], fails = false): { operation: () => Promise<string>; release: () => void } {
  let release = (): void => undefined;
  const operation = (): Promise<string> => {
    events.push(`start ${name}`);
    return new Promise((resolve, reject) => {
      release = () => {
        events.push(`end ${name}`);
        if (fails) reject(new Error(name));
        else resolve(name);
      };
    });
  };
  return { operation, release: () => release() };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('operations run one at a time, in the order asked, each result its own, a failure holding up none after it', async () => {
  const calls = new OneAtATime();
  const events: string[] = [];
  const first = held('first', events, true);
  const second = held('second', events);
  const firstResult = calls.run(first.operation).catch((error: Error) => `failed ${error.message}`);
  const secondResult = calls.run(second.operation);
  await turn();
  assert.deepEqual(events, ['start first'], 'the second waits while the first runs');
  first.release();
  assert.equal(await firstResult, 'failed first');
  await turn();
  assert.deepEqual(events, ['start first', 'end first', 'start second']);
  second.release();
  assert.equal(await secondResult, 'second');
});
