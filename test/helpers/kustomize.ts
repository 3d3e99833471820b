// Renders a kustomization with the kustomize built into kubectl, offline. kubectl comes from
// wherever this machine has it: Debian's `kubernetes-client` package (what .ci/run installs)
// or a newer one.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** A rendered Kubernetes object, before its schema is checked. */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly labels?: Readonly<Record<string, string>> };
  readonly [field: string]: unknown;
}

export interface Kustomize {
  readonly kubectlVersion: string;
  /**
   * `kind: Component` arrived in kustomize 3.7 (kubectl 1.21). Debian bookworm's kubectl is
   * 1.20, with kustomize 2.0.3; kubectl reports its kustomize version from 1.24 on.
   */
  readonly supportsComponents: boolean;
}

/** The kubectl on PATH, or null when there is none. */
export function findKustomize(): Kustomize | null {
  const result = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) return null;
  const version = JSON.parse(result.stdout) as { clientVersion: { gitVersion: string }; kustomizeVersion?: string };
  return { kubectlVersion: version.clientVersion.gitVersion, supportsComponents: version.kustomizeVersion !== undefined };
}

function parseObjects(text: string, source: string): K8sObject[] {
  return parseAllDocuments(text).map((document) => {
    if (document.errors.length > 0) throw new Error(`${source}: ${document.errors.map((error) => error.message).join('; ')}`);
    return document.toJS() as K8sObject;
  });
}

/** `kubectl kustomize DIR`, parsed. */
export function render(dir: string): K8sObject[] {
  const result = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  if (result.error !== undefined) throw result.error;
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${result.stderr}`);
  return parseObjects(result.stdout, dir);
}

/** Renders `base` plus `component` through a throw-away overlay, as a user's overlay would. */
export function renderWithComponent(base: string, component: string): K8sObject[] {
  const overlay = mkdtempSync(join(tmpdir(), 'rawhttp-overlay-'));
  try {
    // Relative paths: kustomize 5 refuses absolute ones for bases and components.
    const kustomization = `resources:\n  - ${relative(overlay, base)}\ncomponents:\n  - ${relative(overlay, component)}\n`;
    writeFileSync(join(overlay, 'kustomization.yaml'), kustomization);
    return render(overlay);
  } finally {
    rmSync(overlay, { recursive: true, force: true });
  }
}

/** The Kubernetes objects among the YAML documents of a file's text (others are skipped). */
export function objectsIn(text: string, source: string): K8sObject[] {
  return parseObjects(text, source).filter((value) => typeof value?.apiVersion === 'string' && typeof value.kind === 'string');
}
