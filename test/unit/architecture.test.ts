// The layout rules of docs/architecture.md, checked on the source: who may import whom, and
// no cycle between folders. Reads src/ as text, so it needs no build of what it checks.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/server.js';

const SRC = join(REPO_ROOT, 'src');
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*'(\.{1,2}\/[^']+)'/g;

/** A file's node in the graph: its top folder under src/, or the file itself at the top, without the extension (imports name the .js a .ts compiles to). */
function nodeOf(path: string): string {
  const parts = relative(SRC, path).split(sep);
  return parts.length > 1 ? parts[0]! : parts[0]!.replace(/\.[jt]s$/, '');
}

/** Folder -> the folders its files import (itself left out). */
function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const entry of readdirSync(SRC, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    const from = nodeOf(file);
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const to = nodeOf(resolve(dirname(file), spec!));
      if (to !== from) edges.add(to);
    }
  }
  return graph;
}

const graph = folderGraph();
const importsOf = (folder: string): string[] => [...(graph.get(folder) ?? [])].sort();

test('core, the vocabulary, imports nothing of the project', () => {
  assert.deepEqual(importsOf('core'), []);
});

test('the pool imports nothing of the project: it is generic over jobs and results', () => {
  assert.deepEqual(importsOf('pool'), []);
});

test('security is pure rules over the vocabulary', () => {
  assert.deepEqual(importsOf('security'), ['core']);
});

test('handlers, what workers run, import only the vocabulary and the security rules', () => {
  for (const folder of importsOf('handlers')) assert.ok(['core', 'security'].includes(folder), `handlers import ${folder}`);
});

test('no cycle between folders', () => {
  const visiting = new Set<string>();
  const done = new Set<string>();
  const visit = (node: string, path: string[]): void => {
    if (done.has(node)) return;
    assert.ok(!visiting.has(node), `cycle: ${[...path, node].join(' -> ')}`);
    visiting.add(node);
    for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
    visiting.delete(node);
    done.add(node);
  };
  for (const node of graph.keys()) visit(node, []);
});

test('the entry loads only the signal handling before its handlers are in place; the rest comes after, through import()', () => {
  // A value import (not `import type`) is evaluated before the module's first line runs.
  const valueImports = (file: string): string[] => [...readFileSync(join(SRC, file), 'utf8').matchAll(/^import (?!type )[^;]*?from '([^']+)'/gm)].map((match) => match[1]!);
  assert.deepEqual(valueImports('main.ts'), ['./shutdown.js']);
  const shutdownImports = valueImports('shutdown.ts');
  assert.ok(shutdownImports.every((spec) => spec.startsWith('node:')), `shutdown.ts loads only built-ins: ${shutdownImports.join(', ')}`);
});

/** Each import of the files in `folder`: the project path it names, and whether only types come from it. */
function importsIn(folder: string): { file: string; target: string; typeOnly: boolean }[] {
  const found: { file: string; target: string; typeOnly: boolean }[] = [];
  for (const name of readdirSync(join(SRC, folder))) {
    if (!name.endsWith('.ts')) continue;
    const file = join(SRC, folder, name);
    for (const match of readFileSync(file, 'utf8').matchAll(/(?:^|\n)\s*(import|export)(\s+type)?\s[^;]*?from\s*'(\.{1,2}\/[^']+)'/g)) {
      const target = relative(SRC, resolve(dirname(file), match[3]!)).split(sep).join('/');
      found.push({ file: `${folder}/${name}`, target, typeOnly: match[2] !== undefined });
    }
  }
  return found;
}

const outside = (folder: string) => (entry: { target: string }): boolean => !entry.target.startsWith(`${folder}/`);

test("the engine loads the vocabulary, the security rules, the log line and the handlers' two pure rule modules; of the pool, types only", () => {
  const allowed = (target: string): boolean => /^(core|security)\//.test(target) || ['log.js', 'handlers/conditional.js', 'handlers/representation.js'].includes(target);
  for (const entry of importsIn('http').filter(outside('http'))) {
    assert.ok(allowed(entry.target) || (entry.typeOnly && entry.target.startsWith('pool/')), `${entry.file} imports ${entry.target}`);
  }
});

test("the admin port loads the vocabulary, the security rules and the engine's parser; of the rest of the engine and the pool, types only", () => {
  for (const entry of importsIn('admin').filter(outside('admin'))) {
    const allowed = /^(core|security)\//.test(entry.target) || ['http/parser.js', 'http/read-so-far.js'].includes(entry.target);
    assert.ok(allowed || (entry.typeOnly && /^(http|pool)\//.test(entry.target)), `${entry.file} imports ${entry.target}`);
  }
});

test("docs/architecture.md's layout lists every source file, and only those", () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'architecture.md'), 'utf8');
  const block = /```\nsrc\/\n([\s\S]*?)```/.exec(doc);
  assert.ok(block !== null, 'the layout block starts with src/');
  const listed: string[] = [];
  let folder = '';
  for (const line of block[1]!.split('\n')) {
    const entry = /^( +)(\S+)/.exec(line);
    if (entry === null) continue;
    if (entry[2]!.endsWith('/')) folder = entry[2]!;
    else if (entry[2]!.endsWith('.ts')) listed.push(entry[1]!.length > 2 ? `${folder}${entry[2]}` : entry[2]!);
  }
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((path) => path.endsWith('.ts')).map((path) => path.split(sep).join('/'));
  assert.deepEqual([...listed].sort(), [...files].sort());
});

/** Each top-level module -> the modules and folders it imports, and whether only types come from each. */
function topLevelImports(): Map<string, Map<string, boolean>> {
  const modules = new Map<string, Map<string, boolean>>();
  for (const name of readdirSync(SRC)) {
    if (!name.endsWith('.ts')) continue;
    const file = join(SRC, name);
    const edges = new Map<string, boolean>();
    const text = readFileSync(file, 'utf8');
    const add = (spec: string, typeOnly: boolean): void => {
      const to = nodeOf(resolve(dirname(file), spec));
      edges.set(to, (edges.get(to) ?? true) && typeOnly);
    };
    for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)(\s+type)?\s[^;]*?from\s*'(\.{1,2}\/[^']+)'/g)) add(match[2]!, match[1] !== undefined);
    // main.ts loads most of the app through import(), after its signal handlers are in place.
    for (const match of text.matchAll(/import\('(\.{1,2}\/[^']+)'\)/g)) add(match[1]!, false);
    modules.set(nodeOf(file), edges);
  }
  return modules;
}

/** The wiring part of docs/architecture.md's import diagram: module -> what it imports, and whether the arrow says types only. */
function wiringDiagram(): Map<string, Map<string, boolean>> {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'architecture.md'), 'utf8');
  const block = /```\n(  wiring .*\n(?: {11}.*\n)*)/.exec(doc);
  assert.ok(block !== null, "the diagram's first line starts with wiring");
  const diagram = new Map<string, Map<string, boolean>>();
  let edges = new Map<string, boolean>();
  let typeOnly = false;
  for (const line of block[1]!.replace('wiring', '      ').split('\n')) {
    const source = /^ {11}(\S+)\.ts\s*(?:([─┄])▶)?(.*)$/.exec(line);
    const rest = source !== null ? source[3]! : line;
    if (source !== null) {
      edges = diagram.get(source[1]!) ?? new Map<string, boolean>();
      diagram.set(source[1]!, edges);
      typeOnly = source[2] === '┄';
    }
    for (const item of rest.replace(/\([^)]*\)/g, '').split(',')) {
      const target = /^\s*(\S+?)(?:\.ts|\/)\s*$/.exec(item);
      if (target !== null) edges.set(target[1]!, typeOnly);
    }
  }
  return diagram;
}

test("docs/architecture.md's wiring diagram shows every top-level module's imports, and only those; a dotted arrow, types only", () => {
  const diagram = wiringDiagram();
  for (const [module, imports] of topLevelImports()) {
    const drawn = diagram.get(module);
    assert.ok(drawn !== undefined, `${module}.ts is in the diagram`);
    assert.deepEqual([...drawn.keys()].sort(), [...imports.keys()].sort(), `${module}.ts's imports`);
    for (const [target, typeOnly] of drawn) if (typeOnly) assert.ok(imports.get(target), `${module}.ts ┄▶ ${target}: types only`);
  }
});
