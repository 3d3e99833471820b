// The process's open-file limit (`ulimit -n`), as Linux states it in /proc/self/limits. Read
// once at start (config.ts): LISTEN_SOCKETS=auto is sized from it, and the descriptor monitor
// (http/fd-monitor.ts) watches against it.

/** The soft limit on open files ("Max open files" in /proc/self/limits), or null if unknown or unlimited. */
export function openFileLimit(limitsText: string): number | null {
  const line = limitsText.split('\n').find((text) => text.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  return soft === undefined || !/^\d+$/.test(soft) ? null : Number(soft);
}
