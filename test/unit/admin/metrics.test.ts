// The request metrics are kept per series and handed to prom-client in batches: a scrape must
// still read exact values, whatever the batch boundaries and however many series there are.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DiskSpace } from '../../../src/core/disk-space.js';
import { Metrics } from '../../../src/admin/metrics.js';

function newMetrics(uploadsDisk: () => DiskSpace | null = () => null): Metrics {
  return new Metrics({ poolStats: () => ({ workers: 1, busy: 0, queued: 0 }), openConnections: () => 0, bodyBytes: () => 0, queueCapacity: 64, uploadsDisk, trackedClients: () => 0, droppedLogLines: () => 0 });
}

/** The value of one sample line of the exposition, e.g. `http_server_requests_total{method="GET",status="200"}`. */
async function sample(metrics: Metrics, line: string): Promise<number> {
  const text = await metrics.registry.metrics();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  assert.ok(found !== undefined, `no sample ${line}`);
  return Number(found.slice(line.length + 1));
}

describe('request metrics', () => {
  test('a scrape reads every completed request, between and across batch boundaries', async () => {
    const metrics = newMetrics();
    for (let i = 0; i < 3000; i++) metrics.requestCompleted('GET', 200, 0.002);
    metrics.requestCompleted('HEAD', 304, 0.0004);
    assert.equal(await sample(metrics, 'http_server_requests_total{method="GET",status="200"}'), 3000);
    assert.equal(await sample(metrics, 'http_server_request_duration_seconds_count{method="GET",status="200"}'), 3000);
    assert.equal(await sample(metrics, 'http_server_request_duration_seconds_bucket{le="0.0025",method="GET",status="200"}'), 3000);
    assert.equal(await sample(metrics, 'http_server_request_duration_seconds_bucket{le="0.001",method="GET",status="200"}'), 0);
    assert.ok(Math.abs((await sample(metrics, 'http_server_request_duration_seconds_sum{method="GET",status="200"}')) - 6) < 1e-9);
    assert.equal(await sample(metrics, 'http_server_requests_total{method="HEAD",status="304"}'), 1);
    // A second scrape neither loses nor repeats anything.
    metrics.requestCompleted('GET', 200, 0.002);
    assert.equal(await sample(metrics, 'http_server_requests_total{method="GET",status="200"}'), 3001);
    assert.equal(await sample(metrics, 'http_server_request_duration_seconds_count{method="GET",status="200"}'), 3001);
  });

  test('hundreds of odd methods share the OTHER label and are all counted', async () => {
    const metrics = newMetrics();
    for (let i = 0; i < 600; i++) metrics.requestCompleted(`M${i}`, 405, 0.0001);
    metrics.requestCompleted('GET', 200, 0.0001);
    assert.equal(await sample(metrics, 'http_server_requests_total{method="OTHER",status="405"}'), 600);
    assert.equal(await sample(metrics, 'http_server_request_duration_seconds_count{method="OTHER",status="405"}'), 600);
    assert.equal(await sample(metrics, 'http_server_requests_total{method="GET",status="200"}'), 1);
  });
});

describe('refusal counters', () => {
  test('PROXY refusals share the security counter, each reason at 0 from the start', async () => {
    const metrics = newMetrics();
    for (const reason of ['untrusted_proxy', 'proxy_header', 'proxy_header_timeout']) {
      assert.equal(await sample(metrics, `http_server_security_rejections_total{reason="${reason}"}`), 0);
    }
    metrics.proxyRefused('proxy_header_timeout');
    assert.equal(await sample(metrics, 'http_server_security_rejections_total{reason="proxy_header_timeout"}'), 1);
  });

  test('the admin port\'s refusals share the security counter too, each reason at 0 from the start', async () => {
    const metrics = newMetrics();
    for (const reason of ['admin_client_limit', 'admin_connection_limit']) {
      assert.equal(await sample(metrics, `http_server_security_rejections_total{reason="${reason}"}`), 0);
    }
    metrics.adminConnectionRefused('admin_client_limit');
    assert.equal(await sample(metrics, 'http_server_security_rejections_total{reason="admin_client_limit"}'), 1);
    assert.equal(await sample(metrics, 'http_server_security_rejections_total{reason="admin_connection_limit"}'), 0);
  });
});

describe('live gauges', () => {
  test('the queue capacity and the uploads file system are read at each scrape', async () => {
    let disk: DiskSpace | null = { freeBytes: 3 * 4096, sizeBytes: 10 * 4096 };
    const metrics = newMetrics(() => disk);
    assert.equal(await sample(metrics, 'http_server_queue_capacity'), 64);
    assert.equal(await sample(metrics, 'http_server_uploads_free_bytes'), 3 * 4096);
    assert.equal(await sample(metrics, 'http_server_uploads_size_bytes'), 10 * 4096);
    disk = { freeBytes: 4096, sizeBytes: 10 * 4096 };
    assert.equal(await sample(metrics, 'http_server_uploads_free_bytes'), 4096);
  });

  test('an unreadable uploads file system is NaN (no value), not 0 free bytes', async () => {
    const metrics = newMetrics(() => null);
    assert.ok(Number.isNaN(await sample(metrics, 'http_server_uploads_free_bytes')));
    assert.ok(Number.isNaN(await sample(metrics, 'http_server_uploads_size_bytes')));
  });
});
