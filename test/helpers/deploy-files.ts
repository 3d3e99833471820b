// The monitoring files under deploy/, read as data: rules, rule tests, dashboard.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from './server.js';

export const PROMETHEUS_DIR = join(REPO_ROOT, 'deploy', 'prometheus');
export const RULES_FILE = join(PROMETHEUS_DIR, 'rules.yml');
export const RULE_TESTS_DIR = join(PROMETHEUS_DIR, 'tests');
export const DASHBOARD_FILE = join(REPO_ROOT, 'deploy', 'grafana', 'rawhttp.json');

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}

export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export type Rule = RecordingRule | AlertingRule;

export function readYaml(path: string): unknown {
  return parse(readFileSync(path, 'utf8'));
}

export function rules(): Rule[] {
  const file = readYaml(RULES_FILE) as { groups: { rules: Rule[] }[] };
  return file.groups.flatMap((group) => group.rules);
}

export const isAlert = (rule: Rule): rule is AlertingRule => 'alert' in rule;
export const isRecord = (rule: Rule): rule is RecordingRule => 'record' in rule;

export function ruleTestFiles(): string[] {
  return readdirSync(RULE_TESTS_DIR)
    .filter((name) => name.endsWith('.yml'))
    .sort()
    .map((name) => join(RULE_TESTS_DIR, name));
}

interface Panel {
  readonly type: string;
  readonly title: string;
  readonly targets?: { readonly expr?: string }[];
  readonly panels?: Panel[];
}

export interface Dashboard {
  readonly schemaVersion: number;
  readonly panels: Panel[];
  readonly templating: { readonly list: { readonly name: string; readonly type: string; readonly query: unknown; readonly datasource?: unknown }[] };
}

export function dashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

/** Every panel, those inside collapsed rows included. */
export function allPanels(board: Dashboard): Panel[] {
  return board.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

/** Every PromQL expression of the dashboard's panels, with their titles. */
export function dashboardExpressions(board: Dashboard): { readonly title: string; readonly expr: string }[] {
  return allPanels(board).flatMap((panel) => (panel.targets ?? []).flatMap((target) => (target.expr === undefined ? [] : [{ title: panel.title, expr: target.expr }])));
}
