// deploy/kubernetes, checked offline: the kustomization renders (kubectl's kustomize), every
// object is valid for the Kubernetes API of a named version (schemas from npm), and the
// fields the operation depends on say what docs/deploy.md promises. No cluster needed.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test, type TestContext } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { loadConfig, SETTING_NAMES } from '../../src/config.js';
import { memoryBound } from '../../src/memory-bound.js';
import { installedVersion, schemaProblems, SCHEMA_SOURCES } from '../helpers/kubernetes-schema.js';
import { findKustomize, objectsIn, render, renderWithComponent, type K8sObject } from '../helpers/kustomize.js';
import { readOnlySandbox, sandboxUnavailable, STILL_WRITABLE } from '../helpers/sandbox.js';
import { REPO_ROOT, RESOURCES_DIR, startServer, type StartedServer } from '../helpers/server.js';

const BASE = join(REPO_ROOT, 'deploy', 'kubernetes');
const POD_MONITOR = join(BASE, 'components', 'pod-monitor');
const MiB = 1024 * 1024;
const kustomize = findKustomize();

let rendered: K8sObject[] | null = null;
/** The base, rendered once; null (and the test skipped, saying why) without kubectl. */
function base(t: TestContext): K8sObject[] | null {
  if (kustomize === null) {
    t.diagnostic('SKIPPED: no kubectl to render the kustomization: apt-get install kubernetes-client');
    t.skip('no kubectl');
    return null;
  }
  rendered ??= render(BASE);
  return rendered;
}

function one<T>(objects: readonly K8sObject[], kind: string): T {
  const found = objects.filter((object) => object.kind === kind);
  assert.equal(found.length, 1, `one ${kind} expected, found ${found.length}`);
  return found[0] as unknown as T;
}

function selects(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>> | undefined): boolean {
  return selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

/** `448Mi` -> bytes; the only suffixes the manifests use. */
function bytesOf(quantity: string | number | undefined): number {
  const match = /^(\d+)(Mi|Gi)$/.exec(String(quantity));
  assert.ok(match !== null, `memory quantity ${quantity} not in Mi or Gi`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1) * MiB;
}

function podSpec(objects: readonly K8sObject[]) {
  const spec = one<IDeployment>(objects, 'Deployment').spec!.template.spec!;
  assert.equal(spec.containers.length, 1);
  return { pod: spec, container: spec.containers[0]! };
}

function configData(objects: readonly K8sObject[]): Record<string, string> {
  return one<IConfigMap>(objects, 'ConfigMap').data ?? {};
}

/**
 * Every variable the container is given: its `env` entries, and the keys of the ConfigMaps
 * its `envFrom` names (with their prefix).
 */
function containerVariables(objects: readonly K8sObject[]): string[] {
  const { container } = podSpec(objects);
  const configMaps = objects.filter((object) => object.kind === 'ConfigMap') as unknown as IConfigMap[];
  const fromConfigMaps = (container.envFrom ?? []).flatMap((source) => {
    const name = source.configMapRef?.name;
    assert.ok(name !== undefined, 'envFrom names ConfigMaps only (a Secret\'s keys cannot be checked here)');
    const configMap = configMaps.find((candidate) => candidate.metadata?.name === name);
    assert.ok(configMap !== undefined, `envFrom names ConfigMap ${name}, which is rendered`);
    return Object.keys(configMap.data ?? {}).map((key) => `${source.prefix ?? ''}${key}`);
  });
  return [...fromConfigMaps, ...(container.env ?? []).map((variable) => variable.name)];
}

/** The names that are no setting: the server ignores them (and warns at start), so the setting meant keeps its default. */
const notSettings = (names: readonly string[]): string[] => names.filter((name) => !SETTING_NAMES.includes(name));

/** The server's configuration from a ConfigMap's data; the repository's resources and a scratch folder stand in for the image's paths. */
function serverConfig(data: Readonly<Record<string, string>>): ReturnType<typeof loadConfig> {
  const scratch = mkdtempSync(join(tmpdir(), 'rawhttp-config-'));
  try {
    return loadConfig([], { ...data, RESOURCES_DIR, UPLOADS_DIR: scratch });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The `from` lists of the NetworkPolicy's rules that admit a port, one per rule. */
function admittedFrom(objects: readonly K8sObject[], port: string): unknown[] {
  const rules = one<INetworkPolicy>(objects, 'NetworkPolicy').spec!.ingress ?? [];
  return rules.filter((rule) => rule.ports?.some((entry) => entry.port === port)).map((rule) => rule.from);
}

test('the schema packages are the versions these tests name', () => {
  for (const [name, source] of Object.entries(SCHEMA_SOURCES)) {
    assert.equal(installedVersion(name), source.version, `${name} changed: update SCHEMA_SOURCES with the version it was generated from`);
  }
});

test('the schemas reject what the API server would (a port as text, a PodMonitor port as a number)', async () => {
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'broken' },
    spec: { selector: { matchLabels: { a: 'b' } }, template: { spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: '8080' }] }] } } },
  };
  const podMonitor = { apiVersion: 'monitoring.coreos.com/v1', kind: 'PodMonitor', metadata: { name: 'broken' }, spec: { selector: {}, podMetricsEndpoints: [{ port: 9090 }] } };
  assert.match((await schemaProblems(deployment)).join(), /containerPort must be integer/);
  assert.match((await schemaProblems(podMonitor)).join(), /port must be string/);
  assert.match((await schemaProblems({ apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 'x' } })).join(), /no schema/);
});

test(`the base renders, and every object is valid for the ${SCHEMA_SOURCES['kubernetes-models'].generatedFrom}`, async (t) => {
  const objects = base(t);
  if (objects === null) return;
  t.diagnostic(`rendered with kubectl ${kustomize!.kubectlVersion}: ${objects.map((object) => object.kind).join(', ')}`);
  const kinds = objects.map((object) => object.kind).sort();
  assert.deepEqual(kinds, ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'NetworkPolicy', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'Service']);
  for (const object of objects) assert.deepEqual(await schemaProblems(object), []);
});

test('the Deployment: replicas left to the autoscaler, spread over nodes, probes on the admin port, grace beyond delay + timeout', (t) => {
  const objects = base(t);
  if (objects === null) return;
  const deployment = one<IDeployment>(objects, 'Deployment');
  const { pod, container } = podSpec(objects);
  const labels = deployment.spec!.template.metadata!.labels;
  // A count here would be applied over the autoscaler's at every `kubectl apply`.
  assert.equal(deployment.spec!.replicas, undefined);
  assert.ok(selects(deployment.spec!.selector.matchLabels, labels));
  const spread = pod.topologySpreadConstraints ?? [];
  assert.ok(spread.some((constraint) => constraint.topologyKey === 'kubernetes.io/hostname' && selects(constraint.labelSelector?.matchLabels, labels)));

  const ports = Object.fromEntries((container.ports ?? []).map((port) => [port.name, port.containerPort]));
  const config = configData(objects);
  assert.deepEqual(ports, { http: Number(config.PORT), admin: Number(config.ADMIN_PORT) });
  assert.equal(ports.admin, 9090);
  const probes = { startup: container.startupProbe, liveness: container.livenessProbe, readiness: container.readinessProbe };
  assert.deepEqual(
    Object.fromEntries(Object.entries(probes).map(([name, probe]) => [name, `${probe?.httpGet?.path} on ${probe?.httpGet?.port}`])),
    { startup: '/livez on admin', liveness: '/livez on admin', readiness: '/readyz on admin' },
  );

  const delayMs = Number(config.SHUTDOWN_DELAY_MS);
  const timeoutMs = Number(config.SHUTDOWN_TIMEOUT_MS);
  // Endpoint removal reaches kube-proxy and load balancers in seconds, not milliseconds.
  assert.ok(delayMs >= 5000, `SHUTDOWN_DELAY_MS ${delayMs} is too short for endpoint propagation`);
  assert.ok(pod.terminationGracePeriodSeconds! * 1000 > delayMs + timeoutMs, 'grace period must exceed SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS');
  assert.equal(deployment.spec!.strategy?.rollingUpdate?.maxUnavailable, 0);
});

test('the Deployment is locked down and its memory limit covers the documented bound', (t) => {
  const objects = base(t);
  if (objects === null) return;
  const { pod, container } = podSpec(objects);
  assert.equal(pod.securityContext?.runAsNonRoot, true);
  assert.equal(pod.securityContext?.runAsUser, 1000, "the image's node user");
  assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
  assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
  assert.equal(container.securityContext?.allowPrivilegeEscalation, false);
  assert.deepEqual(container.securityContext?.capabilities?.drop, ['ALL']);
  assert.equal(pod.automountServiceAccountToken, false);

  // README's bound ("Memory") for the ConfigMap's settings (defaults filled in), with the limit
  // 10% above it for the allocator. The terms are checked to be README's own.
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  for (const term of [
    'RSS ≤ at rest (about 80 MiB + 11 MiB × MAX_THREADS on Node.js 24)',
    '+ MAX_BODY_MEMORY_BYTES + MAX_BODY_BYTES + FILE_CACHE_MAX_BYTES',
    '+ open connections × (MAX_REQUEST_LINE_BYTES + MAX_HEADER_BYTES + 64 KiB)',
    '+ open connections × 384 KiB for clients that do not read',
    '+ about 100 MiB of refused bodies read and dropped',
    "+ the main thread's heap under load (about 66 MiB)",
    '+ the admin port: 64 connections × (64 KiB + one answer of tens of KiB)',
  ]) {
    assert.ok(readme.includes(term), `README's memory bound has the term "${term}"`);
  }
  // The server computes the same bound at start (src/memory-bound.ts) and warns below it.
  const bound = memoryBound(serverConfig(configData(objects))).total * 1.1;
  const limit = bytesOf(container.resources?.limits?.memory);
  assert.ok(limit >= bound, `memory limit ${limit / MiB} MiB is below the documented ${bound / MiB} MiB`);
  assert.equal(bytesOf(container.resources?.requests?.memory), limit, 'memory request equals the limit');
  assert.ok(container.resources?.requests?.cpu !== undefined, 'the HPA measures utilization against the CPU request');
});

test("the image names its user by number, the Deployment's runAsUser and runAsGroup", (t) => {
  const objects = base(t);
  if (objects === null) return;
  // runAsNonRoot in a pod that sets no runAsUser makes the kubelet check the image's
  // user, which it can only do for a number: a name fails with "image has non-numeric user".
  const users = [...readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8').matchAll(/^USER\s+(\S+)\s*$/gm)].map((match) => match[1]);
  const { pod } = podSpec(objects);
  assert.deepEqual(users, [`${pod.securityContext?.runAsUser}:${pod.securityContext?.runAsGroup}`]);
});

test('configuration comes from the ConfigMap, is valid for the server, and puts uploads on the shared claim', (t) => {
  const objects = base(t);
  if (objects === null) return;
  const configMap = one<IConfigMap>(objects, 'ConfigMap');
  const { pod, container } = podSpec(objects);
  // The generated name (with its content hash) is what the Deployment refers to.
  assert.deepEqual(container.envFrom?.map((source) => source.configMapRef?.name), [configMap.metadata!.name]);
  const data = configMap.data ?? {};
  const config = serverConfig(data);
  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.adminHost, '0.0.0.0');
  assert.ok(config.allowedHosts.length > 0, 'ALLOWED_HOSTS must name the hosts clients use');
  assert.equal(new Set(config.allowedHosts).size, config.allowedHosts.length, `ALLOWED_HOSTS names no host twice (${config.allowedHosts.join(', ')})`);
  const mount = container.volumeMounts?.find((volumeMount) => volumeMount.mountPath === data.UPLOADS_DIR);
  assert.ok(mount !== undefined, 'UPLOADS_DIR is a mounted volume');
  const claimName = pod.volumes?.find((volume) => volume.name === mount.name)?.persistentVolumeClaim?.claimName;
  const claim = one<IPersistentVolumeClaim>(objects, 'PersistentVolumeClaim');
  assert.equal(claimName, claim.metadata!.name);
  assert.deepEqual(claim.spec!.accessModes, ['ReadWriteMany']);
  assert.deepEqual(container.volumeMounts?.map((volumeMount) => volumeMount.name), [mount.name], 'nothing else is writable');
});

test('every variable the container is given is a setting: a misspelt ConfigMap key would leave its setting at the default', (t) => {
  const objects = base(t);
  if (objects === null) return;
  const variables = containerVariables(objects);
  assert.deepEqual(notSettings(variables), []);
  assert.ok(variables.includes('MAX_THREADS'), `the ConfigMap's keys are read: ${variables.join(', ')}`);
});

test('Service, PodDisruptionBudget, autoscaler and NetworkPolicy select the pods and name the right ports', (t) => {
  const objects = base(t);
  if (objects === null) return;
  const deployment = one<IDeployment>(objects, 'Deployment');
  const labels = deployment.spec!.template.metadata!.labels;
  const service = one<IService>(objects, 'Service');
  assert.ok(selects(service.spec!.selector, labels));
  assert.deepEqual(service.spec!.ports!.map((port) => `${port.name}->${port.targetPort}`), ['http->http', 'admin->admin']);

  const budget = one<IPodDisruptionBudget>(objects, 'PodDisruptionBudget');
  assert.ok(selects(budget.spec!.selector?.matchLabels, labels));
  assert.equal(budget.spec!.maxUnavailable, 1);

  const autoscaler = one<IHorizontalPodAutoscaler>(objects, 'HorizontalPodAutoscaler');
  assert.deepEqual(autoscaler.spec!.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata!.name });
  assert.equal(autoscaler.spec!.minReplicas, 3);
  assert.equal(autoscaler.spec!.metrics?.[0]?.resource?.name, 'cpu');

  const policy = one<INetworkPolicy>(objects, 'NetworkPolicy');
  assert.ok(selects(policy.spec!.podSelector?.matchLabels, labels));
  const rules = policy.spec!.ingress ?? [];
  // Open in the base, for a LoadBalancer Service or clients in the cluster; the overlay example narrows it.
  assert.deepEqual(admittedFrom(objects, 'http'), [undefined], 'the public port is open to all');
  assert.deepEqual(
    admittedFrom(objects, 'admin'),
    [[{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } }]],
    "the admin port only from Prometheus's pods in the monitoring namespace",
  );
  assert.ok(rules.every((rule) => rule.ports !== undefined && rule.ports.length > 0), 'no rule admits every port');
  // The server connects nowhere and resolves no name: egress is denied, not left open.
  assert.deepEqual(policy.spec!.policyTypes, ['Ingress', 'Egress']);
  assert.equal(policy.spec!.egress, undefined, 'no egress rule');
});

test("the server needs nothing writable but the uploads volume: it runs as the Deployment's user with every mount read-only", async (t) => {
  const objects = base(t);
  if (objects === null) return;
  const unavailable = sandboxUnavailable();
  if (unavailable !== null) {
    t.diagnostic(`SKIPPED: cannot build the read-only sandbox here: ${unavailable}`);
    return t.skip(unavailable);
  }
  const { pod, container } = podSpec(objects);
  assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
  assert.deepEqual(pod.volumes?.map((volume) => volume.emptyDir), [undefined], 'no emptyDir: nothing else needs to be writable');
  const uploads = mkdtempSync(join(tmpdir(), 'rawhttp-sandbox-'));
  const sandbox = readOnlySandbox(pod.securityContext!.runAsUser!, pod.securityContext!.runAsGroup!, uploads);
  let server: StartedServer | null = null;
  try {
    // MIN_FREE_DISK_BYTES off: the sandbox's uploads folder may sit on a small file system.
    server = await startServer({ uploadsDir: uploads, launcher: sandbox.launcher, env: { ...sandbox.env, MIN_FREE_DISK_BYTES: '0' } });
    const get = async (path: string): Promise<Response> => fetch(`http://127.0.0.1:${server!.port}${path}`);
    assert.equal((await get('/index.html')).status, 200);
    // Over 64 KiB: streamed from an open descriptor rather than cached.
    const photo = await get('/photo.jpg');
    assert.ok(Buffer.from(await photo.arrayBuffer()).equals(readFileSync(join(RESOURCES_DIR, 'photo.jpg'))));
    const body = JSON.stringify({ sandboxed: true });
    const stored = await fetch(`http://127.0.0.1:${server.port}/upload`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    assert.equal(stored.status, 201);
    assert.equal(await (await get(stored.headers.get('location')!)).text(), body);
    assert.equal((await fetch(`http://127.0.0.1:${server.adminPort}/readyz`)).status, 200);
    assert.equal(await server.stop(), 0);
    t.diagnostic(`served, stored and shut down as uid ${pod.securityContext!.runAsUser} with only ${uploads} writable`);
  } catch (error) {
    if (!String(error).includes(`exited with ${STILL_WRITABLE}`)) throw error;
    t.diagnostic('SKIPPED: this machine does not let a mount namespace make its file systems read-only');
    t.skip('no read-only remount');
  } finally {
    await server?.stop();
    rmSync(uploads, { recursive: true, force: true });
  }
});

/** The component's objects: rendered with the base where kustomize can, else read as files. */
function podMonitorObjects(t: TestContext): K8sObject[] | null {
  if (base(t) === null) return null;
  if (kustomize!.supportsComponents) return renderWithComponent(BASE, POD_MONITOR);
  t.diagnostic(`kubectl ${kustomize!.kubectlVersion} predates kustomize components: reading the component's resources as files`);
  const kustomization = objectsIn(readFileSync(join(POD_MONITOR, 'kustomization.yaml'), 'utf8'), 'kustomization.yaml')[0]!;
  assert.equal(kustomization.kind, 'Component');
  const files = kustomization.resources as string[];
  return [...base(t)!, ...files.flatMap((file) => objectsIn(readFileSync(join(POD_MONITOR, file), 'utf8'), file))];
}

test(`the PodMonitor component adds a PodMonitor valid for the ${SCHEMA_SOURCES['@kubernetes-models/prometheus-operator'].generatedFrom}`, async (t) => {
  const objects = podMonitorObjects(t);
  if (objects === null) return;
  assert.equal(objects.length, base(t)!.length + 1);
  const monitor = one<IPodMonitor>(objects, 'PodMonitor');
  assert.deepEqual(await schemaProblems(monitor as unknown as K8sObject), []);
  const labels = one<IDeployment>(objects, 'Deployment').spec!.template.metadata!.labels;
  assert.ok(selects(monitor.spec.selector.matchLabels, labels));
  assert.deepEqual(monitor.spec.podMetricsEndpoints?.map((endpoint) => `${endpoint.port} ${endpoint.path}`), ['admin /metrics']);
  // The job label is the pods' label the PodMonitor names: the job the alerts select.
  const rules = readFileSync(join(REPO_ROOT, 'deploy', 'prometheus', 'rules.yml'), 'utf8');
  const selectedJobs = new Set([...rules.matchAll(/\bjob="([^"]+)"/g)].map((match) => match[1]));
  assert.deepEqual([...selectedJobs], [labels?.[monitor.spec.jobLabel ?? '']], 'the alerts select the job the PodMonitor gives its series');
});

test('the Kubernetes objects shown in docs/deploy.md are valid too', async () => {
  const docs = join(REPO_ROOT, 'docs');
  const blocks = readdirSync(docs)
    .filter((name) => name.endsWith('.md'))
    .flatMap((name) => [...readFileSync(join(docs, name), 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => ({ name, text: match[1]! })));
  // Overlays shown there are kustomize's files, not API objects.
  const objects = blocks.flatMap((block) => objectsIn(block.text, block.name)).filter((object) => !object.apiVersion.startsWith('kustomize.config.k8s.io/'));
  assert.ok(objects.some((object) => object.kind === 'HorizontalPodAutoscaler'), 'the saturation autoscaler example is there');
  for (const object of objects) assert.deepEqual(await schemaProblems(object), []);
});

/**
 * The variables a YAML document gives the server, at any depth: the `env` entries of a
 * container named rawhttp, and the literals of the generator of rawhttp-config.
 */
function variablesIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(variablesIn);
  if (typeof value !== 'object' || value === null) return [];
  const { name, env, literals } = value as { name?: unknown; env?: unknown; literals?: unknown };
  if (name === 'rawhttp' && Array.isArray(env)) return env.map((variable: { name: string }) => variable.name);
  if (name === 'rawhttp-config' && Array.isArray(literals)) return literals.map((literal: string) => literal.split('=', 1)[0]!);
  return Object.values(value).flatMap(variablesIn);
}

test("the variables the docs' Kubernetes examples set are settings", () => {
  const docs = join(REPO_ROOT, 'docs');
  const variables = readdirSync(docs)
    .filter((name) => name.endsWith('.md'))
    .flatMap((name) => [...readFileSync(join(docs, name), 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)])
    .flatMap((match) => parseAllDocuments(match[1]!).flatMap((document) => variablesIn(document.toJS())));
  assert.deepEqual(notSettings(variables), []);
  for (const name of ['ALLOWED_HOSTS', 'SHUTDOWN_DELAY_MS', 'UPLOAD_TOKENS_FILE']) assert.ok(variables.includes(name), `${name} is among ${variables.join(', ')}`);
});

test('the OpenShift overlay in docs/deploy.md renders, leaves uid, gid and fsGroup to the platform, and keeps the rest locked down', async (t) => {
  const objects = base(t);
  if (objects === null) return;
  const docs = readFileSync(join(REPO_ROOT, 'docs', 'deploy.md'), 'utf8');
  const example = /```yaml\n# openshift\/kustomization.yaml\n([\s\S]*?)```/.exec(docs)?.[1];
  assert.ok(example !== undefined, 'the example is there');
  const root = mkdtempSync(join(tmpdir(), 'rawhttp-docs-openshift-'));
  try {
    const dir = join(root, 'openshift');
    mkdirSync(dir);
    writeFileSync(join(dir, 'kustomization.yaml'), example.replaceAll('../deploy/kubernetes', relative(dir, BASE)));
    const rendered = render(dir);
    for (const object of rendered) assert.deepEqual(await schemaProblems(object), []);
    const { pod, container } = podSpec(rendered);
    const { pod: basePod, container: baseContainer } = podSpec(objects);
    const { runAsUser: _user, runAsGroup: _group, fsGroup: _fsGroup, ...kept } = basePod.securityContext!;
    assert.deepEqual(pod.securityContext, kept, 'only runAsUser, runAsGroup and fsGroup are gone');
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.deepEqual(container.securityContext, baseContainer.securityContext);
    assert.equal(rendered.length, objects.length, 'nothing else changes');
    assert.deepEqual(notSettings(containerVariables(rendered)), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** The overlay's base and component folders exist, and its patch and generator name objects of the base and component. */
function checkOverlayReferences(overlay: K8sObject, objects: readonly K8sObject[]): void {
  const beside = (path: string): string => join(REPO_ROOT, 'my-cluster', path);
  for (const path of [...(overlay.resources as string[]), ...(overlay.components as string[])]) {
    assert.ok(existsSync(join(beside(path), 'kustomization.yaml')), `${path} is a kustomization`);
  }
  const names = new Set(objects.map((object) => `${object.kind}/${(object.metadata as { name: string }).name}`));
  for (const { target } of overlay.patches as Array<{ target: { kind: string; name: string } }>) assert.ok(names.has(`${target.kind}/${target.name}`), `${target.kind}/${target.name} is in the base`);
  const generated = objectsIn(readFileSync(join(BASE, 'kustomization.yaml'), 'utf8'), 'kustomization.yaml')[0]!.configMapGenerator as Array<{ name: string }>;
  for (const { name } of overlay.configMapGenerator as Array<{ name: string }>) assert.ok(generated.some((entry) => entry.name === name), `the base generates ConfigMap ${name}`);
}

test('the overlay example in docs/deploy.md renders, and what it changes is there', async (t) => {
  if (base(t) === null) return;
  const docs = readFileSync(join(REPO_ROOT, 'docs', 'deploy.md'), 'utf8');
  const example = /```yaml\n# my-cluster\/kustomization.yaml\n([\s\S]*?)```/.exec(docs)?.[1];
  assert.ok(example !== undefined, 'the example is there');
  if (!kustomize!.supportsComponents) {
    // Debian's kubectl predates components: check what the example names instead of rendering it.
    t.diagnostic(`kubectl ${kustomize!.kubectlVersion} predates kustomize components: checking the example's references without rendering`);
    return checkOverlayReferences(objectsIn(example, 'docs/deploy.md')[0]!, podMonitorObjects(t)!);
  }
  // Beside a copy of the repository's layout: my-cluster/ next to deploy/.
  const root = mkdtempSync(join(tmpdir(), 'rawhttp-docs-overlay-'));
  try {
    const dir = join(root, 'my-cluster');
    mkdirSync(dir);
    writeFileSync(join(dir, 'kustomization.yaml'), example.replaceAll('../deploy/kubernetes', relative(dir, BASE)));
    const objects = render(dir);
    for (const object of objects) assert.deepEqual(await schemaProblems(object), []);
    assert.deepEqual([...new Set(objects.map((object) => (object.metadata as { namespace?: string }).namespace))], ['web']);
    assert.equal(one<IPersistentVolumeClaim>(objects, 'PersistentVolumeClaim').spec!.storageClassName, 'nfs-client');
    assert.equal(podSpec(objects).container.image, 'registry.example.com/rawhttp:1.0.0');
    assert.deepEqual(notSettings(containerVariables(objects)), []);
    // Clients in the cluster may use any of the Service's names, the full one included.
    const allowedHosts = serverConfig(configData(objects)).allowedHosts;
    for (const name of ['www.example.com', 'rawhttp', 'rawhttp.web', 'rawhttp.web.svc', 'rawhttp.web.svc.cluster.local']) {
      assert.ok(allowedHosts.includes(`${name}:80`), `ALLOWED_HOSTS has ${name}`);
    }
    // kube-prometheus-stack's Prometheus selects only PodMonitors with its release label.
    assert.ok(one<IPodMonitor>(objects, 'PodMonitor').metadata?.labels?.release !== undefined, 'the PodMonitor has a release label');
    // Behind an Ingress: the controller's addresses are trusted, or every client shares one
    // client's limits; and only its namespace reaches the public port, or any pod in that
    // range could name any client in X-Forwarded-For.
    assert.ok(serverConfig(configData(objects)).trustedProxies.length > 0, 'TRUSTED_PROXIES names the ingress controller');
    assert.deepEqual(admittedFrom(objects, 'http'), [[{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }]]);
    assert.deepEqual(admittedFrom(objects, 'admin'), admittedFrom(base(t)!, 'admin'), 'the admin rule stays as in the base');
    // Uploads need a token: UPLOAD_TOKENS_FILE lies in a Secret mounted as a whole folder
    // (a subPath mount never receives the Secret's updates), read-only.
    const tokensFile = configData(objects).UPLOAD_TOKENS_FILE ?? '';
    const { pod, container } = podSpec(objects);
    const tokensMount = container.volumeMounts?.find((volumeMount) => tokensFile.startsWith(`${volumeMount.mountPath}/`));
    assert.ok(tokensMount !== undefined, `UPLOAD_TOKENS_FILE (${tokensFile}) is in a mounted volume`);
    assert.equal(tokensMount.subPath, undefined);
    assert.equal(tokensMount.readOnly, true);
    const secretName = pod.volumes?.find((volume) => volume.name === tokensMount.name)?.secret?.secretName;
    assert.ok(secretName !== undefined, 'the tokens come from a Secret');
    assert.ok(docs.includes(`create secret generic ${secretName} --from-file=${tokensFile.slice(tokensMount.mountPath.length + 1)}=`), 'the docs show how to create that Secret');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
