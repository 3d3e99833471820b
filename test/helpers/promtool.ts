// Finds Prometheus's promtool (Debian's `prometheus` package) for tests that need it. Where it
// is missing, those tests skip with one line saying what to install; under CI (CI=true, as
// .ci/run runs, which installs it) they fail instead, so a broken install cannot pass unseen.
import { spawn } from 'node:child_process';
import { findOnPath } from './tools.js';

export const PROMTOOL = findOnPath('promtool');

/** The `skip` option for tests that need promtool: a reason where it is missing, except under CI. */
export const SKIP_WITHOUT_PROMTOOL: string | false =
  PROMTOOL === null && process.env.CI !== 'true' ? "promtool not found: install Debian's prometheus package (apt-get install prometheus)" : false;

/** The promtool path; fails the test where it is missing (only reached under CI, see above). */
export function promtool(): string {
  if (PROMTOOL === null) throw new Error('promtool not found on PATH under CI=true: .ci/run should have installed the prometheus package');
  return PROMTOOL;
}

/** Runs promtool to completion. */
export function runPromtool(args: readonly string[], cwd?: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(promtool(), args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}
