// The built-in modules the handlers use, taken from Node.js's own module table. An ESM import
// of a built-in builds its whole namespace, which runs every lazy getter: `import ... from
// 'node:fs'` loads fs/promises, file streams and readline, and `node:crypto` all of Web
// Crypto, in every worker, none of which uses them (docs/memory.md).
export const fs = process.getBuiltinModule('node:fs');

/**
 * The kernel's random number generator, read directly: the random part of an upload's names
 * is the only randomness a worker needs, and loading node:crypto for it costs every worker
 * memory (docs/memory.md). Where there is no such device, node:crypto.
 */
const RANDOM_DEVICE = '/dev/urandom';

/** Fills `buffer` with cryptographically secure random bytes, from `device` if it can be opened. */
export function fillRandom(buffer: Buffer, device: string = RANDOM_DEVICE): void {
  let fd: number;
  try {
    fd = fs.openSync(device, 'r');
  } catch {
    process.getBuiltinModule('node:crypto').randomFillSync(buffer);
    return;
  }
  try {
    // A large read may return early when a signal arrives; read until the buffer is full.
    for (let at = 0; at < buffer.length; ) at += fs.readSync(fd, buffer, at, buffer.length - at, null);
  } finally {
    fs.closeSync(fd);
  }
}

// Drawn 4 KiB at a time: one open, read and close for a couple of hundred uploads.
const pool = Buffer.alloc(4096);
let nextByte = pool.length;

/** `bytes` random bytes (at most 4096) as hex. */
export function randomHex(bytes: number): string {
  if (nextByte + bytes > pool.length) {
    fillRandom(pool);
    nextByte = 0;
  }
  const hex = pool.toString('hex', nextByte, nextByte + bytes);
  nextByte += bytes;
  return hex;
}
