// The Prometheus rules of deploy/prometheus: promtool accepts the scrape config and the rules
// it loads, the promtool unit tests pass, and every alert is complete (for, severity, summary,
// description, a runbook section in docs/operations.md) and tested both firing and silent.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAlert, PROMETHEUS_DIR, readYaml, rules, ruleTestFiles } from '../helpers/deploy-files.js';
import { runPromtool, SKIP_WITHOUT_PROMTOOL } from '../helpers/promtool.js';
import { REPO_ROOT } from '../helpers/server.js';

const OPERATIONS_DOC = join(REPO_ROOT, 'docs', 'operations.md');

/** GitHub's anchor for a Markdown heading: lowercase, punctuation dropped, spaces as hyphens. */
function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function documentedAnchors(): Set<string> {
  const headings = readFileSync(OPERATIONS_DOC, 'utf8').match(/^#{1,6} .+$/gm) ?? [];
  return new Set(headings.map((line) => headingAnchor(line.replace(/^#+ /, ''))));
}

test('promtool accepts the scrape config and the rules file it loads', { skip: SKIP_WITHOUT_PROMTOOL }, async () => {
  const checked = await runPromtool(['check', 'config', join(PROMETHEUS_DIR, 'prometheus.yml')]);
  assert.equal(checked.code, 0, checked.output);
  assert.match(checked.output, /SUCCESS: 1 rule files found/);
});

test('the promtool unit tests of the rules pass', { skip: SKIP_WITHOUT_PROMTOOL }, async () => {
  const files = ruleTestFiles();
  assert.ok(files.length >= 3, `rule tests found: ${files.join(', ')}`);
  const result = await runPromtool(['test', 'rules', ...files]);
  assert.equal(result.code, 0, result.output);
  assert.equal(result.output.match(/^\s*SUCCESS$/gm)?.length, files.length, result.output);
});

test('every alert has a for clause, a severity, a summary, a description and a runbook section', () => {
  const anchors = documentedAnchors();
  const alerts = rules().filter(isAlert);
  assert.deepEqual(
    alerts.map((alert) => alert.alert),
    [
      'RawhttpDown',
      'RawhttpRestarting',
      'RawhttpAbsent',
      'RawhttpOverloaded',
      'RawhttpPoolSaturated',
      'RawhttpHighErrorRatio',
      'RawhttpAvailabilityBudgetFastBurn',
      'RawhttpAvailabilityBudgetSlowBurn',
      'RawhttpLatencyBudgetFastBurn',
      'RawhttpLatencyBudgetSlowBurn',
      'RawhttpWorkerRestarts',
      'RawhttpFileDescriptorsNearLimit',
      'RawhttpUploadsDiskNearlyFull',
      'RawhttpLogLinesDropped',
    ],
  );
  for (const alert of alerts) {
    assert.match(alert.for ?? '', /^\d+[smh]$/, `${alert.alert}: for`);
    assert.ok(['critical', 'warning'].includes(alert.labels?.severity ?? ''), `${alert.alert}: severity`);
    assert.ok((alert.annotations?.summary ?? '').length > 10, `${alert.alert}: summary`);
    assert.ok((alert.annotations?.description ?? '').length > 20, `${alert.alert}: description`);
    const url = alert.annotations?.runbook_url ?? '';
    assert.equal(url, `docs/operations.md#${alert.alert.toLowerCase()}`, `${alert.alert}: runbook_url`);
    assert.ok(anchors.has(alert.alert.toLowerCase()), `${alert.alert}: docs/operations.md has no section "${alert.alert}"`);
  }
});

interface RuleTestFile {
  readonly tests: { readonly alert_rule_test?: { readonly alertname: string; readonly exp_alerts?: unknown[] }[] }[];
}

test('every alert is tested firing, and silent where it should be', () => {
  const expectations = ruleTestFiles().flatMap((file) => (readYaml(file) as RuleTestFile).tests.flatMap((group) => group.alert_rule_test ?? []));
  for (const { alert } of rules().filter(isAlert)) {
    const own = expectations.filter((expectation) => expectation.alertname === alert);
    assert.ok(own.some((expectation) => (expectation.exp_alerts ?? []).length > 0), `${alert}: no test where it fires`);
    assert.ok(own.some((expectation) => (expectation.exp_alerts ?? []).length === 0), `${alert}: no test where it stays silent`);
  }
});
