#!/usr/bin/env node
// Micro-benchmark of the request parser on its hot path: a small bodiless GET as wrk sends it,
// fed and parsed one request at a time. Run `npm run build` first.
// Usage: node scripts/bench-parser.mjs [requests=1000000] [path to parser.js]
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const count = Number(process.argv[2] ?? 1_000_000);
const modulePath = process.argv[3] ? pathToFileURL(resolve(process.argv[3])).href : '../dist/src/http/parser.js';
const { RequestParser } = await import(modulePath);
const LIMITS = { maxRequestLineBytes: 8192, maxHeaderBytes: 8192, maxBodyBytes: 1 << 20 };
const REQUEST = Buffer.from('GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n', 'latin1');

function run(n) {
  const parser = new RequestParser(LIMITS);
  let requests = 0;
  for (let i = 0; i < n; i++) {
    parser.feed(REQUEST);
    for (;;) {
      const event = parser.next();
      if (event.type === 'need-more') break;
      if (event.type !== 'request') throw new Error(`unexpected ${event.type}`);
      requests++;
    }
  }
  return requests;
}

run(100_000); // warm up
// CPU time rather than wall time: on a shared machine, time spent waiting for a core is not ours.
const rounds = [];
for (let round = 0; round < 5; round++) {
  const started = process.cpuUsage();
  const served = run(count);
  const used = process.cpuUsage(started);
  if (served !== count) throw new Error(`parsed ${served} of ${count}`);
  rounds.push(count / ((used.user + used.system) / 1e6));
}
rounds.sort((a, b) => a - b);
console.log(`${count} GETs x 5 rounds: median ${Math.round(rounds[2])} req per CPU second (min ${Math.round(rounds[0])}, max ${Math.round(rounds[4])})`);
