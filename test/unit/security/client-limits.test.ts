// Per-client connection counts and upload buckets on a fake clock, with floods of distinct
// addresses (as from 127.0.0.0/8) to show the table stays bounded and empties again.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClientLimits, MAX_CLIENTS, type ClientLimitSettings, type CountedConnection } from '../../../src/security/client-limits.js';

const DEFAULTS = { maxConnectionsPerClient: 128, uploadRatePerMinute: 60, uploadBurst: 20 } as const;

function limits(settings: Partial<ClientLimitSettings> = {}): { limits: ClientLimits; advance: (ms: number) => void } {
  let now = 1_000_000;
  return { limits: new ClientLimits({ ...DEFAULTS, now: () => now, ...settings }), advance: (ms) => (now += ms) };
}

/** The nth address of 127.0.0.0/8 (n below 2^24). */
const loopback = (n: number): string => `127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;

describe('connections per client', () => {
  test('a client may hold MAX_CONNECTIONS_PER_CLIENT connections; one more is refused until one closes', () => {
    const { limits: table } = limits();
    const releases = Array.from({ length: 128 }, () => table.acquireConnection('192.0.2.1'));
    assert.ok(releases.every((connection) => connection !== null));
    assert.equal(table.acquireConnection('192.0.2.1'), null);
    assert.notEqual(table.acquireConnection('192.0.2.2'), null, 'another client is not affected');
    releases[0]!.release();
    assert.notEqual(table.acquireConnection('192.0.2.1'), null);
    assert.equal(table.acquireConnection('192.0.2.1'), null);
  });

  test('a release counts once, however often it is called', () => {
    const { limits: table } = limits({ maxConnectionsPerClient: 2 });
    const first = table.acquireConnection('192.0.2.1')!;
    table.acquireConnection('192.0.2.1');
    first.release();
    first.release();
    first.release();
    assert.notEqual(table.acquireConnection('192.0.2.1'), null);
    assert.equal(table.acquireConnection('192.0.2.1'), null);
  });

  test('a connection the server has ended leaves the cap, so that the client can reconnect before it closes', () => {
    const { limits: table } = limits({ maxConnectionsPerClient: 2 });
    const [a, b] = [table.acquireConnection('192.0.2.1')!, table.acquireConnection('192.0.2.1')!];
    assert.equal(table.acquireConnection('192.0.2.1'), null);
    a.ended();
    assert.notEqual(table.acquireConnection('192.0.2.1'), null, "the ended connection's slot");
    assert.equal(table.acquireConnection('192.0.2.1'), null, 'two served again');
    b.release();
    assert.notEqual(table.acquireConnection('192.0.2.1'), null);
  });

  test('ended sockets still count toward twice the cap: a client that never closes holds no more', () => {
    const { limits: table } = limits({ maxConnectionsPerClient: 2 });
    const ended = [0, 1, 2].map(() => {
      const connection = table.acquireConnection('192.0.2.1')!;
      connection.ended();
      return connection;
    });
    const served = table.acquireConnection('192.0.2.1')!;
    assert.equal(table.acquireConnection('192.0.2.1'), null, 'one served and three ended: four sockets, twice the cap');
    served.ended();
    assert.equal(table.acquireConnection('192.0.2.1'), null, 'none served, but four sockets still');
    ended[0]!.release();
    assert.notEqual(table.acquireConnection('192.0.2.1'), null);
  });

  test('ended and release count once each, in either order', () => {
    const { limits: table } = limits({ maxConnectionsPerClient: 1 });
    const first = table.acquireConnection('192.0.2.1')!;
    first.ended();
    first.ended();
    const second = table.acquireConnection('192.0.2.1')!;
    first.release();
    first.release();
    first.ended();
    assert.equal(table.acquireConnection('192.0.2.1'), null, 'the second is served');
    second.release();
    second.ended();
    assert.notEqual(table.acquireConnection('192.0.2.1'), null);
  });

  test('a client is forgotten when its last connection closes and its bucket is full', () => {
    const { limits: table } = limits();
    const a = table.acquireConnection('192.0.2.1')!;
    const b = table.acquireConnection('192.0.2.1')!;
    assert.equal(table.size, 1);
    a.release();
    assert.equal(table.size, 1);
    b.ended();
    assert.equal(table.size, 1, 'its socket is still open');
    b.release();
    assert.equal(table.size, 0);
  });
});

describe('an upload given back', () => {
  test('returns to the bucket it came from, never past UPLOAD_BURST', () => {
    const { limits: table } = limits({ uploadBurst: 2, uploadRatePerMinute: 1 });
    assert.equal(table.takeUpload('192.0.2.1').ok, true);
    assert.equal(table.takeUpload('192.0.2.1').ok, true);
    assert.equal(table.takeUpload('192.0.2.1').ok, false);
    table.returnUpload('192.0.2.1');
    assert.equal(table.takeUpload('192.0.2.1').ok, true, 'the upload given back can be taken again');
    assert.equal(table.takeUpload('192.0.2.1').ok, false);
    const fresh = limits({ uploadBurst: 2 }).limits;
    fresh.returnUpload('192.0.2.2');
    fresh.returnUpload('192.0.2.2');
    assert.equal(fresh.takeUpload('192.0.2.2').ok, true);
    assert.equal(fresh.takeUpload('192.0.2.2').ok, true);
    assert.equal(fresh.takeUpload('192.0.2.2').ok, false, 'a full bucket holds no more than its burst');
  });
});

describe('IPv6 clients', () => {
  test('addresses in one /64 share the connection cap and the upload bucket; the next /64 does not', () => {
    const { limits: table } = limits({ maxConnectionsPerClient: 2, uploadBurst: 2 });
    assert.notEqual(table.acquireConnection('2001:db8:0:1::1'), null);
    const second = table.acquireConnection('2001:db8:0:1::2')!;
    assert.equal(table.acquireConnection('2001:db8:0:1:ffff:ffff:ffff:ffff'), null, 'a fresh address in the same /64');
    assert.notEqual(table.acquireConnection('2001:db8:0:2::1'), null, 'the neighbouring /64');
    second.release();
    assert.notEqual(table.acquireConnection('2001:db8:0:1::3'), null, 'a release frees the network\'s slot');

    assert.equal(table.takeUpload('2001:db8:0:1::a').ok, true);
    assert.equal(table.takeUpload('2001:db8:0:1::b').ok, true);
    assert.equal(table.takeUpload('2001:db8:0:1::c').ok, false);
    assert.equal(table.takeUpload('2001:db8:0:2::c').ok, true);
    assert.equal(table.size, 2, 'one entry per network');
  });

  test('the network is forgotten when its last connection closes, whichever address opened it', () => {
    const { limits: table } = limits();
    const a = table.acquireConnection('2001:db8::1')!;
    const b = table.acquireConnection('2001:db8::2')!;
    a.release();
    b.release();
    assert.equal(table.size, 0);
  });

  test('a prefix of 128 bits makes every address a client of its own', () => {
    const { limits: table } = limits({ maxConnectionsPerClient: 1, ipv6PrefixBits: 128 });
    assert.notEqual(table.acquireConnection('2001:db8::1'), null);
    assert.notEqual(table.acquireConnection('2001:db8::2'), null);
    assert.equal(table.acquireConnection('2001:db8::1'), null);
  });

  test('a prefix of 48 bits joins the /64s of one site', () => {
    const { limits: table } = limits({ maxConnectionsPerClient: 1, ipv6PrefixBits: 48 });
    assert.notEqual(table.acquireConnection('2001:db8:7:1::1'), null);
    assert.equal(table.acquireConnection('2001:db8:7:2::1'), null);
    assert.notEqual(table.acquireConnection('2001:db8:8:1::1'), null);
  });
});

describe('upload rate', () => {
  test('UPLOAD_BURST at once, then one per 60/UPLOAD_RATE_PER_MINUTE seconds; Retry-After says when', () => {
    const { limits: table, advance } = limits();
    for (let i = 0; i < 20; i++) assert.deepEqual(table.takeUpload('192.0.2.1'), { ok: true }, `upload ${i + 1}`);
    assert.deepEqual(table.takeUpload('192.0.2.1'), { ok: false, retryAfterSeconds: 1 });
    assert.deepEqual(table.takeUpload('192.0.2.2'), { ok: true }, 'another client has its own bucket');
    advance(999);
    assert.equal(table.takeUpload('192.0.2.1').ok, false);
    advance(1);
    assert.deepEqual(table.takeUpload('192.0.2.1'), { ok: true });
    assert.equal(table.takeUpload('192.0.2.1').ok, false);
  });

  test('Retry-After rounds the refill time up to whole seconds', () => {
    const { limits: table, advance } = limits({ uploadRatePerMinute: 6, uploadBurst: 1 });
    assert.equal(table.takeUpload('192.0.2.1').ok, true);
    assert.deepEqual(table.takeUpload('192.0.2.1'), { ok: false, retryAfterSeconds: 10 });
    advance(2500);
    assert.deepEqual(table.takeUpload('192.0.2.1'), { ok: false, retryAfterSeconds: 8 });
    advance(7500);
    assert.equal(table.takeUpload('192.0.2.1').ok, true);
  });

  test('the bucket never holds more than UPLOAD_BURST, however long the client was away', () => {
    const { limits: table, advance } = limits({ uploadBurst: 3 });
    table.takeUpload('192.0.2.1');
    advance(3_600_000);
    for (let i = 0; i < 3; i++) assert.equal(table.takeUpload('192.0.2.1').ok, true);
    assert.equal(table.takeUpload('192.0.2.1').ok, false);
  });

  test('UPLOAD_RATE_PER_MINUTE=0 turns the limit off and tracks nobody', () => {
    const { limits: table } = limits({ uploadRatePerMinute: 0 });
    for (let i = 0; i < 1000; i++) assert.equal(table.takeUpload('192.0.2.1').ok, true);
    assert.equal(table.size, 0);
  });
});

describe('bounded memory', () => {
  test('clients whose buckets have refilled are freed', () => {
    const { limits: table, advance } = limits();
    for (let n = 0; n < 10_000; n++) table.takeUpload(loopback(n));
    assert.equal(table.size, 10_000);
    advance(999); // a twentieth of a bucket: nobody is full again yet
    table.takeUpload('192.0.2.1');
    assert.equal(table.size, 10_001);
    advance(20_000);
    table.takeUpload('192.0.2.1');
    assert.equal(table.size, 1, 'only the client just seen is left');
  });

  test('with no new traffic, the clients whose buckets have refilled are gone when counted', () => {
    const { limits: table, advance } = limits();
    for (let n = 0; n < 300; n++) table.takeUpload(loopback(n));
    assert.equal(table.size, 300);
    advance(20_000);
    assert.equal(table.size, 0);
  });

  test('a client with an open connection is kept, however long it has been', () => {
    const { limits: table, advance } = limits();
    const connection = table.acquireConnection('192.0.2.1')!;
    advance(3_600_000);
    table.takeUpload('192.0.2.9');
    assert.equal(table.size, 2);
    connection.release();
    assert.equal(table.size, 1);
  });

  test('a flood of distinct addresses stops at the cap; newcomers share one entry', () => {
    const { limits: table, advance } = limits({ maxClients: 1000, maxConnectionsPerClient: 4 });
    const held: CountedConnection[] = [];
    for (let n = 0; n < 1000; n++) held.push(table.acquireConnection(loopback(n))!);
    assert.equal(table.size, 1000);
    // Past the cap: four connections between all newcomers, then 503 for them.
    for (let n = 1000; n < 1004; n++) held.push(table.acquireConnection(loopback(n))!);
    assert.ok(held.every((connection) => connection !== null));
    for (let n = 1004; n < 5000; n++) assert.equal(table.acquireConnection(loopback(n)), null, loopback(n));
    assert.equal(table.size, 1000);
    // Clients tracked before the flood keep their own limits.
    assert.notEqual(table.acquireConnection(loopback(7)), null);
    // The overflow's bucket is shared as well.
    for (let i = 0; i < 20; i++) assert.equal(table.takeUpload(loopback(6000 + i)).ok, true);
    assert.equal(table.takeUpload(loopback(7000)).ok, false);
    // When the flood is gone, the table empties.
    for (const connection of held) connection.release();
    advance(20_000);
    table.takeUpload('192.0.2.1');
    assert.equal(table.size, 2, 'the client just seen and loopback(7), whose extra connection is open');
  });

  test(`at the default cap (${MAX_CLIENTS} clients) the table stays within a few MiB`, () => {
    const { limits: table, advance } = limits();
    const before = process.memoryUsage().heapUsed;
    for (let n = 0; n < MAX_CLIENTS + 20_000; n++) table.takeUpload(loopback(n));
    const grown = process.memoryUsage().heapUsed - before;
    assert.equal(table.size, MAX_CLIENTS);
    // About 120 bytes a client (key, state, map slot): some 8 MiB; a leak would be far more.
    assert.ok(grown < 32 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(1)} MiB`);
    advance(20_000);
    table.takeUpload('192.0.2.1');
    assert.equal(table.size, 1);
  });
});
