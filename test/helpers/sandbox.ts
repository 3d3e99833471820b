// A container's restrictions without a container engine: a private mount namespace in which
// every file system is read-only but one fresh tmpfs, and the server runs as an unprivileged
// user with no capabilities and no way to gain privileges (util-linux's unshare and setpriv;
// needs root to set up).
import { spawnSync } from 'node:child_process';

/** Why the sandbox cannot be made here, or null. */
export function sandboxUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to create a mount namespace';
  for (const tool of ['unshare', 'setpriv', 'findmnt']) {
    if (spawnSync(tool, ['--version']).error !== undefined) return `${tool} not found: apt-get install util-linux`;
  }
  return null;
}

/** Exit code of the sandbox when the root file system stayed writable. */
export const STILL_WRITABLE = 97;

// Remounts every mount read-only (proc, sys and dev stay as they are), checks that /tmp is
// no longer writable, mounts the one writable tmpfs, and becomes the user: "$@" is the command.
const SCRIPT = `
findmnt -rn -o TARGET | while read -r target; do
  case "$target" in /proc*|/sys*|/dev*) ;; *) mount -o remount,bind,ro "$target" 2>/dev/null ;; esac
done
if touch /tmp/.rawhttp-sandbox-probe 2>/dev/null; then echo "root file system still writable" >&2; exit ${STILL_WRITABLE}; fi
mount -t tmpfs -o "size=16m,mode=0700,uid=$SANDBOX_UID,gid=$SANDBOX_GID" sandbox-writable "$SANDBOX_WRITABLE" || exit 1
exec setpriv --reuid="$SANDBOX_UID" --regid="$SANDBOX_GID" --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all "$@"
`;

/** The launcher (see startServer) and the environment it reads. */
export function readOnlySandbox(uid: number, gid: number, writable: string): { launcher: string[]; env: Record<string, string> } {
  return {
    launcher: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', SCRIPT, 'sandbox'],
    env: { SANDBOX_UID: String(uid), SANDBOX_GID: String(gid), SANDBOX_WRITABLE: writable },
  };
}
