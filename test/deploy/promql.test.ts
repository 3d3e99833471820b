// Every PromQL expression of deploy/prometheus/rules.yml and deploy/grafana/rawhttp.json
// parses (promtool checks them, written as recording rules into a scratch rules file), and
// names only what exists: metrics the real server exports (read from its live /metrics), the
// recording rules of rules.yml, or `up`, which Prometheus adds to every target it scrapes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { dashboard, dashboardExpressions, isRecord, rules } from '../helpers/deploy-files.js';
import { runPromtool, SKIP_WITHOUT_PROMTOOL } from '../helpers/promtool.js';
import { startServer } from '../helpers/server.js';

/** Names that are not series selectors: keywords, and the labels after by/on/... are cut first. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'atan2']);

/** The metric names a PromQL expression selects. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '') // strings
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/(?<![\w:])\d[\w.]*/g, ' '); // numbers and durations (0.25, 1e3, 5m, 1h30m)
  // An identifier followed by "(" calls a function or an aggregation.
  const names = [...bare.matchAll(/([a-zA-Z_:][\w:]*)(\s*\()?/g)].filter((match) => match[2] === undefined).map((match) => match[1]!);
  return [...new Set(names.filter((name) => !KEYWORDS.has(name)))];
}

/** Grafana's variables, replaced by values of the right kind so that promtool can parse the query. */
function withoutGrafanaVariables(expr: string): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (_, name: string) => (name.startsWith('__') ? '5m' : 'x'));
}

/** `label_values(selector, label)` (a Grafana variable query, not PromQL) as its selector. */
function variableSelector(query: string): string {
  const match = /^label_values\((.*),\s*\w+\)$/.exec(query);
  assert.ok(match !== null, `a variable query of the label_values(selector, label) form: ${query}`);
  return match[1]!;
}

/** Every expression to check, with where it comes from. */
function expressions(): { readonly source: string; readonly expr: string }[] {
  const board = dashboard();
  const variables = board.templating.list
    .filter((variable) => variable.type === 'query')
    .map((variable) => ({ source: `dashboard variable ${variable.name}`, expr: variableSelector((variable.query as { query: string }).query) }));
  return [
    ...rules().map((rule) => ({ source: `rules.yml ${'record' in rule ? rule.record : rule.alert}`, expr: rule.expr })),
    ...dashboardExpressions(board).map(({ title, expr }) => ({ source: `dashboard panel "${title}"`, expr })),
    ...variables,
  ].map(({ source, expr }) => ({ source, expr: withoutGrafanaVariables(expr) }));
}

/** Metric names in a text exposition, with the _bucket/_sum/_count series of histograms and summaries. */
function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name! + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name! + suffix);
  }
  return names;
}

/** Names the expressions select that are neither exported, nor recorded, nor `up`. */
function unknownNames(exprs: readonly { source: string; expr: string }[], exported: Set<string>, recorded: Set<string>): string[] {
  return exprs.flatMap(({ source, expr }) => metricNames(expr).filter((name) => name !== 'up' && !exported.has(name) && !recorded.has(name)).map((name) => `${name} (${source})`));
}

test('the name reader finds the selected metrics and nothing else', () => {
  assert.deepEqual(
    metricNames('sum by (job, le) (rate(a_bucket{le="0.25", status!~"5.."}[5m])) / on (job) group_left b:c:p99_rate5m > 1e3 and 2 * rate(c_total[1h:5m] offset 5m)'),
    ['a_bucket', 'b:c:p99_rate5m', 'c_total'],
  );
  assert.deepEqual(metricNames('histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))'), ['x_bucket']);
  assert.deepEqual(metricNames('up{job="rawhttp"} == 0'), ['up']);
});

describe('PromQL of the rules and the dashboard', () => {
  let exported: Set<string>;
  before(async () => {
    const server = await startServer();
    try {
      exported = exportedNames(await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text());
    } finally {
      await server.stop();
    }
  });

  test('names only metrics the server exports, recording rules of rules.yml, or up', () => {
    const recorded = new Set(rules().filter(isRecord).map((rule) => rule.record));
    const exprs = expressions();
    assert.ok(exprs.length > 60, `${exprs.length} expressions`);
    assert.ok(exported.has('http_server_request_duration_seconds_bucket') && exported.has('process_open_fds'), 'the live exposition was read');
    assert.deepEqual(unknownNames(exprs, exported, recorded), []);
    // The check itself catches a misspelt name.
    assert.deepEqual(unknownNames([{ source: 'typo', expr: 'rate(http_server_requestz_total[5m])' }], exported, recorded), ['http_server_requestz_total (typo)']);
  });

  describe('with promtool', { skip: SKIP_WITHOUT_PROMTOOL }, () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'rawhttp-promql-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    /** promtool's verdict on expressions written as recording rules. */
    const check = async (exprs: readonly string[]): Promise<{ code: number | null; output: string }> => {
      const file = join(dir, 'expressions.yml');
      const rulesFile = { groups: [{ name: 'expressions', rules: exprs.map((expr, i) => ({ record: `expression_${i}`, expr })) }] };
      writeFileSync(file, stringify(rulesFile));
      return runPromtool(['check', 'rules', file]);
    };

    test('every expression parses', async () => {
      const exprs = expressions();
      const result = await check(exprs.map(({ expr }) => expr));
      assert.equal(result.code, 0, result.output);
      assert.match(result.output, new RegExp(`SUCCESS: ${exprs.length} rules found`));
      // The method itself rejects a broken expression.
      assert.notEqual((await check(['sum(rate(http_server_requests_total[5m])'])).code, 0);
    });
  });
});
