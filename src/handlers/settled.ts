// When a file's times can vouch for bytes read from it: git's "racy clean" rule. File systems
// stamp a change with a clock that may be coarse (one tick of the kernel's clock before Linux
// 6.13, and since then on file systems that do not opt in to fine-grained stamps such as
// ramfs; whole seconds on some, two on FAT), so a write in the same tick as a read leaves
// size, mtime and ctime as the read saw them. Only a file whose last change lies well before
// the read is sure to show the next one.

/**
 * How long before the read the file's last change must lie. Two seconds cover a clock tick of
 * any kernel, file systems that stamp whole seconds, and vfat, whose modification times go in
 * steps of two; the price is only that a file changed in the two seconds before it was read
 * is read again rather than trusted.
 */
export const SETTLE_MARGIN_MS = 2000;

/** Times of a file, in milliseconds of the wall clock, as fstat gives them. */
export interface ChangeTimes {
  readonly ctimeMs: number;
  readonly mtimeMs: number;
}

/**
 * Whether any change after `statedAtMs` (the wall clock just before the fstat that gave
 * `times`) would move the file's times: then bytes read after that fstat, with the times found
 * the same afterwards, are the file's as long as its times stay the same. The later of the two
 * times counts, so a modification time set ahead of the clock is never trusted.
 */
export function isSettled(times: ChangeTimes, statedAtMs: number): boolean {
  return Math.max(times.ctimeMs, times.mtimeMs) < statedAtMs - SETTLE_MARGIN_MS;
}
