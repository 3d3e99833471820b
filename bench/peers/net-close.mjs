// The bare node:net peer: answers the first read of every connection with one fixed response
// and closes. No parsing, no routing, no files: what Node.js itself costs per connection, the
// ceiling of any Node.js server for `Connection: close` (the target is a ratio to it).
// Usage: node net-close.mjs --port 8083 --root DIR (the page it answers with)
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { peerOptions } from './common.mjs';
import { SMALL_PAGE } from '../lib/docroot.mjs';

const { opts, root } = peerOptions();
const body = fs.readFileSync(path.join(root, SMALL_PAGE));
const response = Buffer.concat([
  Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`),
  body,
]);

const server = net.createServer((socket) => {
  socket.once('data', () => socket.end(response));
  socket.on('error', () => socket.destroy());
});
server.listen(Number(opts.port), opts.host);
process.on('SIGTERM', () => process.exit(0));
