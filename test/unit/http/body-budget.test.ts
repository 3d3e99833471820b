// The request-body memory budget: all bodies together, and each client's part of it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BodyBudget, type BodyTake } from '../../../src/http/body-budget.js';

const MiB = 1024 * 1024;

function release(take: BodyTake): void {
  assert.equal(take.kind, 'taken');
  take.share.release();
}

describe('the budget', () => {
  test('bodies fit until they hold the limit; a release makes room again, once', () => {
    const budget = new BodyBudget(100, { perClient: 10, maxBodyBytes: 10 });
    const takes = Array.from({ length: 10 }, (_, i) => budget.take(10, `client ${i}`));
    assert.ok(takes.every((take) => take.kind === 'taken'));
    assert.equal(budget.heldBytes, 100);
    assert.deepEqual(budget.take(1, 'client 10'), { kind: 'refused', by: 'budget' });
    release(takes[0]!);
    if (takes[0]!.kind === 'taken') takes[0].share.release();
    assert.equal(budget.heldBytes, 90);
    assert.equal(budget.take(10, 'client 10').kind, 'taken');
    assert.deepEqual(budget.take(1, 'client 11'), { kind: 'refused', by: 'budget' });
  });
});

describe("a client's part", () => {
  test('MAX_BODY_MEMORY_PER_CLIENT_BYTES: by default 8 MiB, eight 1 MiB bodies at once', () => {
    const budget = new BodyBudget(64 * MiB, { perClient: 8 * MiB, maxBodyBytes: MiB });
    assert.equal(budget.perClient, 8 * MiB);
    const takes = Array.from({ length: 8 }, () => budget.take(MiB, '192.0.2.1'));
    assert.ok(takes.every((take) => take.kind === 'taken'));
    assert.deepEqual(budget.take(MiB, '192.0.2.1'), { kind: 'refused', by: 'client' });
    assert.equal(budget.take(MiB, '192.0.2.2').kind, 'taken', 'another client has its own part');
    release(takes[0]!);
    assert.equal(budget.take(MiB, '192.0.2.1').kind, 'taken', 'a release gives the part back');
  });

  test('never less than one largest body, and never more than the budget', () => {
    assert.equal(new BodyBudget(64 * MiB, { perClient: MiB / 2, maxBodyBytes: MiB }).perClient, MiB);
    assert.equal(new BodyBudget(4 * MiB, { perClient: 8 * MiB, maxBodyBytes: MiB }).perClient, 4 * MiB);
    assert.equal(new BodyBudget(64 * MiB, { perClient: 8 * MiB, maxBodyBytes: 16 * MiB }).perClient, 16 * MiB);
  });

  test("a client over its part is told so even when the server is full: it is the client's own excess", () => {
    const budget = new BodyBudget(16, { perClient: 2, maxBodyBytes: 2 });
    for (let i = 0; i < 8; i++) assert.equal(budget.take(2, `client ${i}`).kind, 'taken');
    assert.deepEqual(budget.take(2, 'client 0'), { kind: 'refused', by: 'client' });
    assert.deepEqual(budget.take(2, 'client 8'), { kind: 'refused', by: 'budget' });
  });

  test('a null client (a trusted proxy speaking for many) is held to the budget only', () => {
    const budget = new BodyBudget(16, { perClient: 2, maxBodyBytes: 2 });
    for (let i = 0; i < 8; i++) assert.equal(budget.take(2, null).kind, 'taken');
    assert.deepEqual(budget.take(2, null), { kind: 'refused', by: 'budget' });
  });

  test('a client that holds nothing is forgotten: 10 000 clients leave no state behind', () => {
    const budget = new BodyBudget(64 * MiB, { perClient: 8 * MiB, maxBodyBytes: MiB });
    for (let i = 0; i < 10_000; i++) release(budget.take(100, `client ${i}`));
    assert.equal(budget.heldBytes, 0);
    assert.equal(budget.clientsHolding, 0);
  });
});
