// The bare node:net peers: no parsing, no routing, no files, one fixed response per read.
// Without --keep-alive it answers the first read of each connection and closes: what Node.js
// itself costs per connection, the ceiling of any Node.js server for `Connection: close`.
// With --keep-alive it answers every read and keeps the connection: the runtime's own
// throughput and tail under many connections, for comparison with ours.
// Usage: node bare-net.mjs --port 8083 --root DIR (the page it answers with) [--keep-alive]
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { peerOptions } from './common.mjs';
import { SMALL_PAGE } from '../lib/docroot.mjs';

const { opts, root, keepAlive } = peerOptions();
const body = fs.readFileSync(path.join(root, SMALL_PAGE));
const fields = `Content-Type: text/html; charset=utf-8\r\nContent-Length: ${body.length}\r\n${keepAlive ? '' : 'Connection: close\r\n'}`;
const response = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\n${fields}\r\n`), body]);

const server = net.createServer((socket) => {
  socket.on('error', () => socket.destroy());
  if (keepAlive) socket.on('data', () => socket.write(response));
  else socket.once('data', () => socket.end(response));
});
server.listen(Number(opts.port), opts.host);
process.on('SIGTERM', () => process.exit(0));
