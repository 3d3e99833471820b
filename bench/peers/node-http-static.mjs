// A plain node:http static file server: what a careful Node developer writes without
// a framework. Async fs, one event loop, no caching. It is the ">= 2x" peer.
// Usage: node node-http-static.mjs --port 8081 --root DIR --uploads DIR
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CONTENT_TYPES, isInline, MAX_UPLOAD_BYTES, peerOptions, storeDurably } from './common.mjs';

const { opts, root, uploads } = peerOptions();
const SMALL_FILE_BYTES = 64 * 1024;

function sendText(res, status, text) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

// Map the URL path into the document root; null when it would escape it.
function resolvePath(url) {
  let pathname;
  try {
    pathname = decodeURIComponent(new URL(url, 'http://x').pathname);
  } catch {
    return null;
  }
  const file = path.join(root, pathname.endsWith('/') ? pathname + 'index.html' : pathname);
  return file.startsWith(root + path.sep) ? file : null;
}

async function serveFile(req, res) {
  const file = resolvePath(req.url);
  if (!file) return sendText(res, 400, 'Bad Request\n');
  const ext = path.extname(file).toLowerCase();
  const type = CONTENT_TYPES[ext];
  if (!type) return sendText(res, 415, 'Unsupported Media Type\n');
  let stat;
  try {
    stat = await fs.promises.stat(file);
  } catch {
    return sendText(res, 404, 'Not Found\n');
  }
  if (!stat.isFile()) return sendText(res, 404, 'Not Found\n');
  const headers = { 'Content-Type': type, 'Content-Length': stat.size, 'Last-Modified': stat.mtime.toUTCString() };
  if (!isInline(ext)) headers['Content-Disposition'] = `attachment; filename="${path.basename(file)}"`;
  if (req.method === 'HEAD') return res.writeHead(200, headers).end();
  // Small files in one write (a careful developer's habit: a stream per small file
  // costs several thread-pool round trips); large ones streamed with backpressure.
  if (stat.size <= SMALL_FILE_BYTES) {
    const body = await fs.promises.readFile(file);
    res.writeHead(200, headers);
    return res.end(body);
  }
  res.writeHead(200, headers);
  await pipeline(fs.createReadStream(file), res);
}

async function upload(req, res) {
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
    return sendText(res, 415, 'Unsupported Media Type\n');
  }
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_UPLOAD_BYTES) return sendText(res, 413, 'Payload Too Large\n');
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  try {
    JSON.parse(body.toString('utf8')); // store only valid JSON, like ours
  } catch {
    return sendText(res, 400, 'Bad Request\n');
  }
  const name = await storeDurably(uploads, body);
  const reply = JSON.stringify({ file: name });
  res.writeHead(201, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(reply) });
  res.end(reply);
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.method === 'POST' && req.url === '/upload') return await upload(req, res);
    if (req.method === 'GET' || req.method === 'HEAD') return await serveFile(req, res);
    sendText(res, 405, 'Method Not Allowed\n');
  } catch {
    // A client that disconnects mid-stream lands here; nothing left to answer.
    if (!res.headersSent) sendText(res, 500, 'Internal Server Error\n');
    else res.destroy();
  }
});
server.keepAliveTimeout = 30_000; // same idle timeout as ours and the nginx peer
server.listen(Number(opts.port), opts.host);

// The harness stops peers with SIGTERM; close at once so runs end quickly.
process.on('SIGTERM', () => process.exit(0));
