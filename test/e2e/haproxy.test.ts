// A real load balancer in front: haproxy relays TCP to the server with `send-proxy` (PROXY
// v1) and `send-proxy-v2`, as docs/security.md says to configure it, and the server's access
// log names the address the client connected to haproxy from. Needs haproxy (Debian's
// package; .ci/run installs it): skipped without it, except under CI.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { waitFor } from '../fixtures/probes.js';
import { accepting, freePort, get, RawClient } from '../helpers/raw.js';
import { startServer, type StartedServer } from '../helpers/server.js';

const HAPROXY = '/usr/sbin/haproxy';
const SKIP = !existsSync(HAPROXY) && process.env.CI !== 'true' ? 'haproxy not found: install Debian\'s haproxy package (.ci/run does)' : false;

let server: StartedServer;
let haproxy: ChildProcess;
let dir: string;
const ports = { v1: 0, v2: 0 };

before(async () => {
  if (SKIP !== false) return;
  server = await startServer({ env: { PROXY_PROTOCOL: 'true', TRUSTED_PROXIES: '127.0.0.1' } });
  ports.v1 = await freePort();
  ports.v2 = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'rawhttp-haproxy-'));
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'defaults',
      '  mode tcp',
      '  timeout connect 2s',
      '  timeout client 10s',
      '  timeout server 10s',
      `frontend v1`,
      `  bind 127.0.0.1:${ports.v1}`,
      '  default_backend rawhttp_v1',
      `frontend v2`,
      `  bind 127.0.0.1:${ports.v2}`,
      '  default_backend rawhttp_v2',
      'backend rawhttp_v1',
      `  server rawhttp 127.0.0.1:${server.port} send-proxy`,
      'backend rawhttp_v2',
      `  server rawhttp 127.0.0.1:${server.port} send-proxy-v2`,
      '',
    ].join('\n'),
  );
  // -db: in the foreground, so that stopping this child stops haproxy.
  haproxy = spawn(HAPROXY, ['-db', '-f', config], { stdio: 'ignore' });
  await waitFor(async () => (await accepting(ports.v1)) && (await accepting(ports.v2)), 'haproxy to listen', 10_000);
});

after(async () => {
  if (haproxy !== undefined && haproxy.exitCode === null) {
    haproxy.kill('SIGTERM');
    await new Promise((resolve) => haproxy.once('exit', resolve));
  }
  await server?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

for (const version of ['v1', 'v2'] as const) {
  test(`through haproxy's send-proxy${version === 'v2' ? '-v2' : ''}: the client haproxy saw is the client`, { skip: SKIP }, async () => {
    const from = version === 'v1' ? '127.0.7.1' : '127.0.7.2';
    const traceId = randomBytes(16).toString('hex');
    const client = await RawClient.connect(ports[version], '127.0.0.1', from);
    try {
      client.write(get('/', server.port, `traceparent: 00-${traceId}-${randomBytes(8).toString('hex')}-01\r\n`));
      const [response] = await client.responses(1);
      assert.equal(response!.status, 200);
    } finally {
      client.close();
    }
    const logged = await server.waitForLog((line) => line.msg === 'request' && line.traceId === traceId);
    assert.equal(logged.client, from);
  });
}
