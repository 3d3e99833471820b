// A ramfs mount: a file system that stamps changes with the kernel's coarse clock (one tick,
// a few milliseconds), as every file system did before Linux 6.13, whatever the kernel the
// tests run on. Mounting needs root.
import { spawnSync } from 'node:child_process';

/** Mounts a ramfs on `folder`; returns why it could not, or null. */
export function mountRamfs(folder: string): string | null {
  if (process.getuid?.() !== 0) return 'mounting a ramfs needs root';
  const mount = spawnSync('mount', ['-t', 'ramfs', 'ramfs', folder], { encoding: 'utf8' });
  if (mount.error !== undefined) return `mount not found: ${mount.error.message}`;
  return mount.status === 0 ? null : `mount -t ramfs failed: ${mount.stderr.trim()}`;
}

export function unmountRamfs(folder: string): void {
  spawnSync('umount', [folder]);
}
