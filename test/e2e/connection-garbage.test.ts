// Memory a closed connection leaves behind dies young: over thousands of short Connection:
// close exchanges, the main thread's young-generation collections (V8's scavenges, traced with
// --trace-gc-nvp) may promote at most PROMOTED_PER_CONNECTION bytes a connection into the old
// generation, where only full collections free it. Before the server detached a closed
// socket's listeners and kept its registry in an array rather than a Set, this load promoted
// about 2.4 KB of every connection on Node.js 24 (22 promoted little either way); now under
// 1 KB (see docs/memory.md).
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { get } from '../helpers/raw.js';
import { logLineIn, ONE_CLIENT_LOAD, startServer } from '../helpers/server.js';

const CONNECTIONS = 6000;
const CONCURRENCY = 20;
/** Connections before the ones measured: workers start, the file cache fills. */
const WARM_UP = 1000;
const PROMOTED_PER_CONNECTION = 1500;

/** One Connection: close exchange; resolves when the server has closed. */
function closeExchange(port: number, request: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => socket.write(request, 'latin1'));
    socket.on('data', () => undefined);
    socket.on('error', reject);
    socket.on('close', () => resolve());
  });
}

async function exchanges(port: number, count: number): Promise<void> {
  const request = get('/index.html', port, 'Connection: close\r\n');
  let left = count;
  const lane = async (): Promise<void> => {
    while (left-- > 0) await closeExchange(port, request);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
}

interface Scavenges {
  count: number;
  promotedBytes: number;
}

/** Scavenges per isolate, from the trace lines `[pid:isolate:id] ... gc=s ... promoted=N`. */
function scavengesByIsolate(trace: string): Map<string, Scavenges> {
  const byIsolate = new Map<string, Scavenges>();
  for (const line of trace.split('\n')) {
    if (!/ gc=s /.test(line)) continue;
    const isolate = /^\[\d+:(0x[0-9a-f]+)/.exec(line)?.[1];
    const promoted = / promoted=(\d+)/.exec(line)?.[1];
    if (isolate === undefined || promoted === undefined) continue;
    const seen = byIsolate.get(isolate) ?? { count: 0, promotedBytes: 0 };
    seen.count++;
    seen.promotedBytes += Number(promoted);
    byIsolate.set(isolate, seen);
  }
  return byIsolate;
}

test('closed connections die young: scavenges promote less than 1.5 KB of each', async () => {
  // The heap settings `npm start` and the image give the main thread; the trace goes to
  // stdout, beside the JSON log lines.
  const server = await startServer({ env: ONE_CLIENT_LOAD, nodeArgs: ['--trace-gc-nvp', '--max-semi-space-size=8', '--initial-old-space-size=16', '--heap-growing-percent=50'] });
  try {
    await exchanges(server.port, WARM_UP);
    let trace = '';
    server.process.stdout!.on('data', (chunk: Buffer) => (trace += chunk.toString('latin1')));
    await exchanges(server.port, CONNECTIONS);
    // The main thread is the isolate that collected most: the workers run no jobs here.
    const main = [...scavengesByIsolate(trace).values()].sort((a, b) => b.count - a.count)[0];
    assert.ok(main !== undefined && main.count >= 5, `too few scavenges traced to judge: ${main?.count ?? 0}`);
    const promotedPerConnection = main.promotedBytes / CONNECTIONS;
    assert.ok(promotedPerConnection < PROMOTED_PER_CONNECTION, `${promotedPerConnection.toFixed(0)} bytes promoted per connection over ${main.count} scavenges`);
  } finally {
    await server.stop();
  }
});

test('a log line that a worker\'s GC trace prefix broke into is still read', () => {
  const line = '{"level":"info","address":"127.0.0.1:8080","msg":"listening on 127.0.0.1:8080"}';
  assert.deepEqual(logLineIn(`[4242:0x7fa89c001000:5]      480 ms: ${line}`), JSON.parse(line));
  assert.deepEqual(logLineIn(line), JSON.parse(line));
  assert.equal(logLineIn('pause=9.0 mutator=233.3 gc=s promoted=1024'), undefined);
  assert.equal(logLineIn('[4242:0x7fa89c001000:5] {"level":'), undefined);
});
