// The bare node:net peers: no parsing, no routing, no files, one fixed response per read.
// Without --keep-alive it answers the first read of each connection and closes: what Node.js
// itself costs per connection, the ceiling of any Node.js server for `Connection: close`.
// With --keep-alive it answers every read and keeps the connection: the runtime's own
// throughput and tail under many connections, for comparison with ours. --max-requests N
// closes a connection after its Nth response (which says so), as ours does after 100, and
// --listen-sockets N shares the port between N sockets (SO_REUSEPORT), as ours does.
// Usage: node bare-net.mjs --port 8083 --root DIR (the page it answers with) [--keep-alive]
//        [--max-requests N] [--listen-sockets N]
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { peerOptions } from './common.mjs';
import { SMALL_PAGE } from '../lib/docroot.mjs';

const { opts, root, keepAlive } = peerOptions();
const body = fs.readFileSync(path.join(root, SMALL_PAGE));
const maxRequests = Number(opts['max-requests']); // 0: no limit
const listenSockets = Number(opts['listen-sockets']);
const responseWith = (connectionField) => {
  const fields = `Content-Type: text/html; charset=utf-8\r\nContent-Length: ${body.length}\r\n${connectionField}`;
  return Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\n${fields}\r\n`), body]);
};
const keepAliveResponse = responseWith('');
const closeResponse = responseWith('Connection: close\r\n');

function serve(socket) {
  socket.on('error', () => socket.destroy());
  if (!keepAlive) return socket.once('data', () => socket.end(closeResponse));
  let answered = 0;
  socket.on('data', () => {
    if (++answered === maxRequests) socket.end(closeResponse);
    else socket.write(keepAliveResponse);
  });
}

for (let i = 0; i < listenSockets; i++) {
  net.createServer(serve).listen({ port: Number(opts.port), host: opts.host, reusePort: listenSockets > 1 });
}
process.on('SIGTERM', () => process.exit(0));
