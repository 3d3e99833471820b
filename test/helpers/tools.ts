// Real tools some end-to-end tests drive (Chromium, Prometheus, wget, curl). Where one is
// missing, its tests skip with one line saying what to install; .ci/run installs them all
// and fails on any skipped test.
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

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

/** Debian's Chromium, which the browser tests drive through playwright-core. */
export const CHROMIUM = '/usr/bin/chromium';
export const SKIP_WITHOUT_CHROMIUM: string | false = findOnPath('chromium') === null && !existsSync(CHROMIUM) ? `${CHROMIUM} not found: apt-get install chromium` : false;

/** Headless Chromium that stays on loopback: no calls home on a machine without a network. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
