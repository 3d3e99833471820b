// The content contract shared by the node:http and fastify peers, copied from our
// server's behaviour so every peer sends comparable responses:
// .html is shown inline, these other types are downloads, anything else is 415.
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

/** The command line every peer takes: --port, --host, --root and --uploads. */
export function peerOptions() {
  const { values: opts } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      root: { type: 'string' },
      uploads: { type: 'string' },
    },
  });
  const root = path.resolve(opts.root);
  return { opts, root, uploads: path.resolve(opts.uploads ?? path.join(root, 'uploads')) };
}
