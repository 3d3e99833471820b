// Finds the external tools the benchmark needs and explains what is missing.
// wrk and nginx come from Debian; when running as root (CI, dev containers) and
// allowed, the harness installs them itself, otherwise it says how to.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

/** Absolute path of an executable on PATH, or null. */
export function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** First line of a tool's version output (nginx and wrk print to stderr or exit 1). */
export function versionOf(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0].trim() || null;
}

const APT_PACKAGES = { wrk: 'wrk', nginx: 'nginx' };

function aptInstall(packages) {
  const run = (args) => spawnSync('apt-get', args, {
    encoding: 'utf8', timeout: 10 * 60_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  console.log(`[bench] installing ${packages.join(' ')} with apt-get (running as root) ...`);
  let r = run(['install', '-y', '--no-install-recommends', ...packages]);
  if (r.status !== 0) {
    // A fresh machine often has no package lists yet.
    run(['update']);
    r = run(['install', '-y', '--no-install-recommends', ...packages]);
  }
  if (r.status !== 0) console.log(`[bench] apt-get failed:\n${(r.stderr || r.stdout || '').trim().split('\n').slice(-5).join('\n')}`);
  return r.status === 0;
}

/**
 * Ensures wrk and nginx are present when wanted. Returns
 * { wrk, nginx, python3 } with an absolute path or null each.
 */
export function ensureSystemTools({ needWrk, needNginx, install }) {
  const wanted = [];
  if (needWrk) wanted.push('wrk');
  if (needNginx) wanted.push('nginx');
  const missing = wanted.filter((t) => !which(t));
  if (missing.length > 0) {
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const pkgs = missing.map((t) => APT_PACKAGES[t]);
    if (install && isRoot && which('apt-get')) {
      aptInstall(pkgs);
    } else {
      console.log(`[bench] missing: ${missing.join(', ')}. Install with: sudo apt-get install -y ${pkgs.join(' ')}` +
        (install ? '' : ' (--no-install given)'));
    }
  }
  return { wrk: which('wrk'), nginx: which('nginx'), python3: which('python3') };
}

/**
 * Resolves an npm package the way the peer scripts in bench/peers/ will import it
 * (from the repo's node_modules). Returns the resolved path or null.
 */
export function resolvePackage(benchDir, name) {
  const require = createRequire(path.join(benchDir, 'peers', 'resolve-anchor.js'));
  try {
    return require.resolve(name);
  } catch {
    return null;
  }
}
