// The request metrics are kept per series and handed to prom-client in batches: a scrape must
// still read exact values, whatever the batch boundaries and however many series there are.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Metrics } from '../../../src/admin/metrics.js';

function newMetrics(): Metrics {
  return new Metrics({ poolStats: () => ({ workers: 1, busy: 0, queued: 0 }), openConnections: () => 0, bodyBytes: () => 0 });
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
