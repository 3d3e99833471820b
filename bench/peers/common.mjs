// What the node:http and fastify peers share, so that every peer does the same work as our
// server: the content contract (.html inline, these other types downloads, anything else
// 415), durable uploads, and the command line.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

export const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.json': 'application/json',
};

export const isInline = (ext) => ext === '.html';

// Upload bodies above this size are refused, as any real server would.
export const MAX_UPLOAD_BYTES = 1024 * 1024;

/**
 * The command line every peer takes: --port, --host, --root, --uploads, --no-fsync and
 * --keep-alive; the bare node:net peer also --max-requests and --listen-sockets.
 */
export function peerOptions() {
  const { values: opts } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      root: { type: 'string' },
      uploads: { type: 'string' },
      'no-fsync': { type: 'boolean', default: false },
      'keep-alive': { type: 'boolean', default: false },
      'max-requests': { type: 'string', default: '0' },
      'listen-sockets': { type: 'string', default: '1' },
    },
  });
  const root = path.resolve(opts.root);
  return { opts, root, uploads: path.resolve(opts.uploads ?? path.join(root, 'uploads')), fsync: !opts['no-fsync'], keepAlive: opts['keep-alive'] };
}

/**
 * Stores an upload the way our server does, so the upload scenario compares like with like:
 * a temporary file, fsync, a hard link to the final name, and an fsync of the folder.
 */
export async function storeDurably(folder, bytes) {
  const name = `${randomUUID()}.json`;
  const temp = path.join(folder, `.tmp-${randomUUID()}`);
  const file = await fs.promises.open(temp, 'wx');
  try {
    await file.writeFile(bytes);
    await file.sync();
  } finally {
    await file.close();
  }
  await fs.promises.link(temp, path.join(folder, name));
  await fs.promises.unlink(temp);
  const dir = await fs.promises.open(folder, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return name;
}

/**
 * Stores an upload the way most fastify users do: one `writeFile` to its final name. Quick,
 * but a crash can lose a file that was answered 201, or leave it empty or cut short.
 */
export async function storeWithoutFsync(folder, bytes) {
  const name = `${randomUUID()}.json`;
  await fs.promises.writeFile(path.join(folder, name), bytes, { flag: 'wx' });
  return name;
}
