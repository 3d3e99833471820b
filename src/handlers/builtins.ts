// The built-in modules the handlers use, taken from Node.js's own module table. An ESM import
// of a built-in builds its whole namespace, which runs every lazy getter: `import ... from
// 'node:fs'` loads fs/promises, file streams and readline, and `node:crypto` all of Web
// Crypto, in every worker, none of which uses them (docs/memory.md).
export const fs = process.getBuiltinModule('node:fs');

let crypto: typeof import('node:crypto') | undefined;

/** `bytes` random bytes as hex. node:crypto loads at the first call, so a worker that only serves files never holds it. */
export function randomHex(bytes: number): string {
  crypto ??= process.getBuiltinModule('node:crypto');
  return crypto.randomBytes(bytes).toString('hex');
}
