// The layout rules of docs/architecture.md, checked on the source: who may import whom, and
// no cycle between folders. Reads src/ as text, so it needs no build of what it checks.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/server.js';

const SRC = join(REPO_ROOT, 'src');
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*'(\.{1,2}\/[^']+)'/g;

/** A file's node in the graph: its top folder under src/, or the file itself at the top. */
function nodeOf(path: string): string {
  const parts = relative(SRC, path).split(sep);
  return parts.length > 1 ? parts[0]! : parts[0]!.replace(/\.ts$/, '');
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
