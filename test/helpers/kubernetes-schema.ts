// Validates Kubernetes objects offline against the API schemas of a named Kubernetes
// version, shipped on npm by kubernetes-models: the Kubernetes OpenAPI definitions compiled
// into JSON-schema validators (ajv). Custom resources of the Prometheus Operator come from
// @kubernetes-models/prometheus-operator, generated from the operator's own API types.
//
// These schemas, like the API server's, accept unknown fields; a misspelt field name passes.
// The tests therefore also assert the fields that matter by name.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { K8sObject } from './kustomize.js';

/** What the installed packages were generated from (their build scripts name it). */
export const SCHEMA_SOURCES = {
  'kubernetes-models': { version: '5.1.0', generatedFrom: 'Kubernetes v1.36.0 OpenAPI' },
  '@kubernetes-models/prometheus-operator': { version: '6.0.0', generatedFrom: 'prometheus-operator v0.91.0 API' },
} as const;

const CUSTOM_GROUPS: Readonly<Record<string, string>> = {
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

const require = createRequire(import.meta.url);

/** The installed version of a package, to hold SCHEMA_SOURCES to what is really there. */
export function installedVersion(name: string): string {
  const manifest = require.resolve(`${name}/package.json`);
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** `apps/v1` + `Deployment` -> `kubernetes-models/apps/v1/Deployment`. */
function modelModule(object: K8sObject): string {
  const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0]! : '';
  const pkg = CUSTOM_GROUPS[group] ?? 'kubernetes-models';
  return `${pkg}/${object.apiVersion}/${object.kind}`;
}

/** Checks one object against its kind's schema; returns the problems, none when valid. */
export async function schemaProblems(object: K8sObject): Promise<string[]> {
  const where = `${object.kind}/${object.metadata?.name ?? '?'}`;
  let exports: Record<string, unknown>;
  try {
    exports = (await import(modelModule(object))) as Record<string, unknown>;
  } catch {
    return [`${where}: no schema for ${object.apiVersion} ${object.kind}`];
  }
  const Model = exports[object.kind] as ModelClass;
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return [`${where}: ${(error as Error).message}`];
  }
}
