// Real tools some end-to-end tests drive (Chromium, Prometheus, wget, curl). Where one is
// missing, its tests skip with one line saying what to install; .ci/run installs them all
// and fails on any skipped test.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not in this folder
    }
  }
  return null;
}

/** The `skip` option for tests that need these commands: why they cannot run here, or false. */
export function skipWithout(commands: readonly string[], debianPackages: string): string | false {
  const missing = commands.filter((command) => findOnPath(command) === null);
  return missing.length === 0 ? false : `${missing.join(', ')} not found: apt-get install ${debianPackages}`;
}
