// The Grafana dashboard and the compose monitoring profile that runs it, read as data (the
// images cannot be pulled here): the dashboard's shape, that it covers what an operator
// looks at, and that every file the profile mounts exists where the other side expects it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { allPanels, dashboard, dashboardExpressions, PROMETHEUS_DIR, readYaml } from '../helpers/deploy-files.js';
import { REPO_ROOT } from '../helpers/server.js';

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

test('the dashboard is a recent schema with a Prometheus data source variable used by every panel', () => {
  const board = dashboard();
  assert.ok(board.schemaVersion >= 39, `schemaVersion ${board.schemaVersion}`);
  const variable = board.templating.list.find((entry) => entry.name === 'datasource');
  assert.equal(variable?.type, 'datasource');
  assert.equal(variable?.query, 'prometheus');
  for (const entry of board.templating.list.filter((entry) => entry.type === 'query')) assert.deepEqual(entry.datasource, DATASOURCE, `variable ${entry.name}`);
  const panels = allPanels(board).filter((panel) => panel.type !== 'row') as unknown as {
    id: number;
    title: string;
    description?: string;
    datasource: unknown;
    gridPos: { x: number; y: number; w: number; h: number };
    targets: { datasource: unknown; expr: string; refId: string }[];
  }[];
  assert.ok(panels.length >= 20, `${panels.length} panels`);
  assert.equal(new Set(allPanels(board).map((panel) => (panel as unknown as { id: number }).id)).size, allPanels(board).length, 'panel ids are unique');
  for (const panel of panels) {
    assert.deepEqual(panel.datasource, DATASOURCE, `panel "${panel.title}"`);
    assert.ok((panel.description ?? '').length > 10, `panel "${panel.title}" says what it shows`);
    assert.ok(panel.targets.length > 0, `panel "${panel.title}" has a query`);
    for (const target of panel.targets) assert.deepEqual(target.datasource, DATASOURCE, `a query of "${panel.title}"`);
    assert.equal(new Set(panel.targets.map((target) => target.refId)).size, panel.targets.length, `refIds of "${panel.title}"`);
    const { x, w } = panel.gridPos;
    assert.ok(x >= 0 && w > 0 && x + w <= 24, `panel "${panel.title}" fits the 24-column grid`);
  }
  // No two panels (rows included) cover the same cell.
  const placed = allPanels(board).map((panel) => ({ title: panel.title, ...(panel as unknown as { gridPos: { x: number; y: number; w: number; h: number } }).gridPos }));
  for (const [i, a] of placed.entries()) {
    for (const b of placed.slice(i + 1)) {
      const apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
      assert.ok(apart, `panels "${a.title}" and "${b.title}" overlap`);
    }
  }
});

test('the dashboard shows traffic, errors, latency, the pool, connections, the process, its dropped log lines and uploads', () => {
  const exprs = dashboardExpressions(dashboard()).map(({ expr }) => expr).join('\n');
  const shown = [
    'http_server_requests_total', // traffic, errors by status
    'http_server_request_duration_seconds_bucket', // latency quantiles
    'http_server_busy_workers',
    'http_server_workers',
    'http_server_queue_depth',
    'http_server_rejected_total', // rejections by reason
    'http_server_open_connections',
    'http_server_connections_total',
    'process_resident_memory_bytes',
    'process_cpu_seconds_total',
    'nodejs_eventloop_lag_p99_seconds',
    'process_open_fds',
    'http_server_log_lines_dropped_total',
    'http_server_uploads_total',
    'http_server_uploads_free_bytes',
    'job:slo_availability_errors:ratio_rate1h',
  ];
  for (const name of shown) assert.ok(new RegExp(`(?<![\\w:])${name}(?![\\w:])`).test(exprs), `the dashboard shows ${name}`);
  assert.match(exprs, /sum by \(reason\) \(rate\(http_server_rejected_total/, 'rejections by reason');
  assert.match(exprs, /sum by \(status\) \(rate\(http_server_requests_total/, 'responses by status');
});

test('every panel honours the Instance variable, or says in its title and description that it shows the whole job', () => {
  const panels = allPanels(dashboard()).filter((panel) => panel.type !== 'row') as unknown as { title: string; description: string; targets: { expr: string }[] }[];
  for (const panel of panels) {
    if (panel.targets.every((target) => target.expr.includes('instance=~"$instance"'))) continue;
    assert.match(panel.title, /\(whole job\)$/, `panel "${panel.title}" ignores $instance: its title must say so`);
    assert.match(panel.description, /Whole job: .*Instance filter does not apply/, `panel "${panel.title}" ignores $instance: its description must say so`);
  }
  // The job-wide panels are the service level objectives, whose recording rules have no instance.
  const wholeJob = panels.filter((panel) => panel.title.endsWith('(whole job)')).map((panel) => panel.title);
  assert.deepEqual(wholeJob, ['Availability, 1 h (whole job)', 'Within 250 ms, 1 h (whole job)', 'Error budget burn rate (whole job)']);
});

interface ComposeService {
  readonly image?: string;
  readonly profiles?: string[];
  readonly ports?: string[];
  readonly volumes?: string[];
  readonly environment?: Record<string, string>;
}

/** Bind mounts of a service: host path (from the repository root) to container path. */
function bindMounts(service: ComposeService): Map<string, string> {
  const mounts = new Map<string, string>();
  for (const volume of service.volumes ?? []) {
    const [source, target] = volume.split(':');
    if (source!.startsWith('./')) mounts.set(source!.slice(2), target!);
  }
  return mounts;
}

test('the compose monitoring profile runs Prometheus with the rules and Grafana with the dashboard', () => {
  const compose = readYaml(join(REPO_ROOT, 'docker-compose.yml')) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };
  const { prometheus, grafana } = compose.services;
  assert.ok(prometheus !== undefined && grafana !== undefined);
  for (const [name, service] of Object.entries({ prometheus, grafana })) {
    assert.deepEqual(service.profiles, ['monitoring'], `${name} runs only in the monitoring profile`);
    assert.match(service.image ?? '', /^[\w./-]+:v?\d+\.\d+\.\d+$/, `${name}'s image has a pinned version`);
    for (const source of bindMounts(service).keys()) assert.ok(existsSync(join(REPO_ROOT, source)), `${name} mounts ${source}, which exists`);
  }

  // Prometheus finds its rules file where prometheus.yml names it (relative to its own folder).
  const promMounts = bindMounts(prometheus);
  const configAt = promMounts.get('deploy/prometheus/prometheus.yml');
  assert.equal(configAt, '/etc/prometheus/prometheus.yml');
  const config = readYaml(join(PROMETHEUS_DIR, 'prometheus.yml')) as { rule_files: string[] };
  for (const ruleFile of config.rule_files) {
    assert.equal(promMounts.get(`deploy/prometheus/${ruleFile}`), join(dirname(configAt), ruleFile), `${ruleFile} is mounted beside the config`);
  }

  // Grafana: provisioning mounted, the provider's folder holds the dashboard, the data source is the prometheus service.
  const grafanaMounts = bindMounts(grafana);
  assert.equal(grafanaMounts.get('deploy/grafana/provisioning'), '/etc/grafana/provisioning');
  const provider = readYaml(join(REPO_ROOT, 'deploy/grafana/provisioning/dashboards/rawhttp.yml')) as { providers: { options: { path: string } }[] };
  assert.equal(dirname(grafanaMounts.get('deploy/grafana/rawhttp.json') ?? ''), provider.providers[0]!.options.path);
  const datasources = readYaml(join(REPO_ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml')) as { datasources: { type: string; url: string }[] };
  const url = new URL(datasources.datasources[0]!.url);
  assert.equal(datasources.datasources[0]!.type, 'prometheus');
  assert.equal(url.hostname, 'prometheus', 'the compose service name');
  assert.ok(prometheus.ports?.some((port) => port.endsWith(`:${url.port}`)), `Prometheus listens on ${url.port} in its container`);
  // Prometheus has no authentication either: like the admin port, loopback only.
  assert.ok(prometheus.ports?.every((port) => port.startsWith('127.0.0.1:')), 'Prometheus is published on loopback only');

  // Anonymous viewers only, and only from this host.
  assert.equal(grafana.environment?.GF_AUTH_ANONYMOUS_ENABLED, 'true');
  assert.equal(grafana.environment?.GF_AUTH_ANONYMOUS_ORG_ROLE, 'Viewer');
  assert.ok(grafana.ports?.every((port) => port.startsWith('127.0.0.1:')), 'Grafana is published on loopback only');
  assert.ok('grafana-data' in compose.volumes && 'prometheus-data' in compose.volumes);
});
