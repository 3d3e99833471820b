// fastify peer: @fastify/static for GET and a JSON upload route, both stock.
// With --no-fsync it stores uploads with a plain writeFile (not durable), as most fastify
// users do: the upload targets compare ours with both.
// Usage: node fastify-server.mjs --port 8082 --root DIR --uploads DIR [--no-fsync]
import path from 'node:path';
import Fastify from 'fastify';
import fastifyStatic from '@fastify/static';
import { isInline, MAX_UPLOAD_BYTES, peerOptions, storeDurably, storeWithoutFsync } from './common.mjs';

const { opts, root, uploads, fsync } = peerOptions();
const store = fsync ? storeDurably : storeWithoutFsync;

const app = Fastify({ logger: false, keepAliveTimeout: 30_000, bodyLimit: MAX_UPLOAD_BYTES });

await app.register(fastifyStatic, {
  root,
  // Same contract as ours: only .html inline. @fastify/static 10 passes the reply
  // here, 9 and older the raw response; accept both.
  setHeaders(target, filePath) {
    if (isInline(path.extname(filePath).toLowerCase())) return;
    if (typeof target.header === 'function') target.header('Content-Disposition', 'attachment');
    else target.setHeader('Content-Disposition', 'attachment');
  },
});

// Keep the raw bytes (to store them as sent) but still reject invalid JSON, as ours does.
app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
  try {
    JSON.parse(body.toString('utf8'));
    done(null, body);
  } catch (err) {
    err.statusCode = 400;
    done(err);
  }
});

app.post('/upload', async (req, reply) => {
  const name = await store(uploads, req.body);
  return reply.code(201).send({ file: name });
});

await app.listen({ port: Number(opts.port), host: opts.host });
process.on('SIGTERM', () => process.exit(0));
