// Reading callgrind's dumps: with --separate-threads=yes, `callgrind_control --dump` writes
// one file per thread, named <out-file>.<dump number>-<thread number>, thread 1 the main one.
import fs from 'node:fs';
import path from 'node:path';

/** The instructions counted in one dump file: its `totals:` line (`summary:` in old versions). */
function totalOf(text) {
  const match = /^totals:\s+(\d+)/m.exec(text) ?? /^summary:\s+(\d+)/m.exec(text);
  if (!match) throw new Error('no totals: or summary: line in the callgrind dump');
  return Number(match[1]);
}

/** Instructions by thread number in the latest dump of <dir>/<outFile>. */
export function readTotals(dir, outFile) {
  const dumpName = new RegExp(`^${outFile.replace(/\./g, '\\.')}\\.(\\d+)-(\\d+)$`);
  const dumps = fs.readdirSync(dir)
    .map((name) => ({ name, match: dumpName.exec(name) }))
    .filter((d) => d.match)
    .map((d) => ({ name: d.name, dump: Number(d.match[1]), thread: Number(d.match[2]) }));
  if (!dumps.length) throw new Error(`no callgrind dump ${outFile}.N-T in ${dir}`);
  const latest = Math.max(...dumps.map((d) => d.dump));
  const totals = new Map();
  for (const d of dumps.filter((x) => x.dump === latest)) {
    totals.set(d.thread, totalOf(fs.readFileSync(path.join(dir, d.name), 'utf8')));
  }
  return totals;
}
