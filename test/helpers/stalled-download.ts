// A client that stops reading in the middle of a large download, with a request pipelined
// behind it: for the tests of requests left unanswered when their connection closes.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get, RawClient } from './raw.js';

/** A document root with a page and a 32 MiB `big.txt`, more than the socket buffers hold. */
export function rootWithBigFile(prefix: string): string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(root, 'index.html'), '<!DOCTYPE html><title>t</title>\n');
  writeFileSync(join(root, 'big.txt'), Buffer.alloc(32 * 1024 * 1024, 0x61));
  return root;
}

/** Asks for `/big.txt` and then `/index.html`, each with its trace id, and reads nothing. */
export async function stallBehindDownload(port: number, traceIds: readonly [string, string]): Promise<RawClient> {
  const client = await RawClient.connect(port);
  const traced = (path: string, traceId: string): string => get(path, port, `traceparent: 00-${traceId}-00f067aa0ba902b7-01\r\n`);
  client.socket.pause();
  client.write(traced('/big.txt', traceIds[0]) + traced('/index.html', traceIds[1]));
  return client;
}
