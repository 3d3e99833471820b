// The servers under test: ours and the peers. Each entry says whether it can run
// here (skip reason otherwise) and how to start it on a given loopback port.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startProcess } from './procs.mjs';
import { resolvePackage } from './tools.mjs';

export const SERVER_IDS = ['ours', 'baseline', 'nginx-1', 'nginx-auto', 'node-http', 'fastify', 'fastify-nofsync', 'net-close', 'net-keepalive', 'python'];

/** A port the kernel says is free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Our own mime map for nginx, so the peer does not depend on /etc/nginx.
/**
 * Our defaults for how connections come and go (LISTEN_SOCKETS on Linux,
 * MAX_REQUESTS_PER_CONNECTION), given to the bare node:net peers so that they pay for
 * accepting connections as often, and spread over as many sockets, as ours.
 */
const OUR_LISTEN_SOCKETS = ['--listen-sockets', '256'];
const OUR_MAX_REQUESTS = ['--max-requests', '100'];

const NGINX_MIME = `types {
    text/html html;
    text/plain txt;
    image/png png;
    image/jpeg jpg;
    application/json json;
}
`;

function startNginx(ctx, id, workers, port) {
  const prefix = path.join(ctx.work.dir, id);
  fs.mkdirSync(prefix, { recursive: true });
  fs.writeFileSync(path.join(prefix, 'mime.types'), NGINX_MIME);
  const template = fs.readFileSync(path.join(ctx.benchDir, 'nginx.conf.template'), 'utf8');
  const values = { WORKERS: workers, PREFIX: prefix, PORT: port, ROOT: ctx.work.docroot, MIME_TYPES: path.join(prefix, 'mime.types') };
  const conf = template.replace(/\{\{(\w+)\}\}/g, (_, key) => {
    if (!(key in values)) throw new Error(`nginx.conf.template: unknown placeholder {{${key}}}`);
    return String(values[key]);
  });
  const confFile = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(confFile, conf);
  return startProcess({
    cmd: ctx.tools.nginx,
    args: ['-p', prefix, '-c', confFile, '-e', path.join(prefix, 'error.log')],
    env: process.env,
    logFile: path.join(ctx.work.logs, `${id}.log`),
  });
}

/**
 * The command that runs node with args: node itself, or node under ctx.wrapper (a command
 * and its arguments, such as valgrind's) when the harness measures it from outside.
 */
function nodeCommand(ctx, args) {
  const [cmd, ...rest] = [...(ctx.wrapper ?? []), process.execPath, ...args];
  return { cmd, args: rest };
}

function startNodePeer(ctx, id, script, port, extraArgs = []) {
  return startProcess({
    ...nodeCommand(ctx, [path.join(ctx.benchDir, 'peers', script), '--port', String(port), '--root', ctx.work.docroot, '--uploads', ctx.work.uploads, ...extraArgs]),
    env: { ...process.env, NODE_ENV: 'production' },
    logFile: path.join(ctx.work.logs, `${id}.log`),
  });
}

/**
 * The node flags of the image's command (the last `CMD ["node", ...flags, "dist/src/main.js"]`
 * of root's Dockerfile), so ours runs here as it runs in the image; none without a Dockerfile.
 */
export function imageNodeFlags(root) {
  let dockerfile;
  try {
    dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  } catch {
    return [];
  }
  const commands = [...dockerfile.matchAll(/^CMD (\[.*\])\s*$/gm)].map((m) => JSON.parse(m[1]));
  const main = commands.reverse().find((cmd) => cmd[0] === 'node' && cmd.at(-1) === 'dist/src/main.js');
  return main ? main.slice(1, -1) : [];
}

/** Our server, from the build in root (dist/src/main.js); skipped when root is null. */
function ourBuild(ctx, id, label, root) {
  const entry = root && path.join(root, 'dist', 'src', 'main.js');
  return {
    id,
    label,
    upload: true,
    pipelining: true,
    check: () => {
      if (!root) return 'no --baseline given';
      return fs.existsSync(entry) ? null : `${path.relative(process.cwd(), entry) || entry} not found; run \`npm run build\` first`;
    },
    async start(port) {
      const adminPort = await freePort();
      return startProcess({
        ...nodeCommand(ctx, [...imageNodeFlags(root), entry]),
        // The environment passes through, so MAX_THREADS, QUEUE_SIZE, BACKLOG ...
        // can be tried without touching the harness.
        env: {
          ...process.env,
          NODE_ENV: 'production',
          HOST: '127.0.0.1',
          PORT: String(port),
          RESOURCES_DIR: ctx.work.docroot,
          UPLOADS_DIR: ctx.work.uploads,
          ALLOWED_HOSTS: `127.0.0.1:${port},localhost:${port}`,
          ADMIN_HOST: '127.0.0.1',
          ADMIN_PORT: String(adminPort),
          LOG_LEVEL: 'warn',
          // wrk loads from one address: the per-client limits would refuse most of it.
          MAX_CONNECTIONS_PER_CLIENT: '65536',
          UPLOAD_RATE_PER_MINUTE: '0',
        },
        cwd: root,
        logFile: path.join(ctx.work.logs, `${id}.log`),
      });
    },
  };
}

/**
 * ctx: { benchDir, repoRoot, baseline, work, tools, wrapper? }. Returns the catalogue in report order.
 * `upload` says whether the server takes part in the POST /upload scenario:
 * nginx and python's http.server cannot store a POST body without extra modules/code.
 * `pipelining` says whether it answers pipelined requests: python's speaks HTTP/1.0.
 * `only` names the scenarios of a peer that exists for one target alone.
 */
export function serverCatalog(ctx) {
  const fastifyMissing = () => {
    const missing = ['fastify', '@fastify/static'].filter((p) => !resolvePackage(ctx.benchDir, p));
    return missing.length ? `${missing.join(' and ')} not installed (run \`npm install\`; they are devDependencies)` : null;
  };
  return [
    ourBuild(ctx, 'ours', 'ours', ctx.repoRoot),
    ourBuild(ctx, 'baseline', `ours, baseline build`, ctx.baseline),
    {
      id: 'nginx-1',
      label: 'nginx (1 worker)',
      upload: false,
      pipelining: true,
      check: () => (ctx.tools.nginx ? null : 'nginx not installed (apt-get install -y nginx)'),
      start: (port) => startNginx(ctx, 'nginx-1', 1, port),
    },
    {
      id: 'nginx-auto',
      label: 'nginx (auto workers)',
      upload: false,
      pipelining: true,
      check: () => (ctx.tools.nginx ? null : 'nginx not installed (apt-get install -y nginx)'),
      start: (port) => startNginx(ctx, 'nginx-auto', 'auto', port),
    },
    {
      id: 'node-http',
      label: 'node:http static',
      upload: true,
      pipelining: true,
      check: () => null,
      start: (port) => startNodePeer(ctx, 'node-http', 'node-http-static.mjs', port),
    },
    {
      id: 'fastify',
      label: 'fastify + @fastify/static',
      upload: true,
      pipelining: true,
      check: fastifyMissing,
      start: (port) => startNodePeer(ctx, 'fastify', 'fastify-server.mjs', port),
    },
    {
      id: 'fastify-nofsync',
      label: 'fastify, uploads without fsync',
      upload: true,
      pipelining: true,
      only: ['upload'],
      check: fastifyMissing,
      start: (port) => startNodePeer(ctx, 'fastify-nofsync', 'fastify-server.mjs', port, ['--no-fsync']),
    },
    {
      id: 'net-close',
      label: 'bare node:net, one response and close, 256 listening sockets',
      upload: false,
      pipelining: false,
      only: ['get-close'],
      check: () => null,
      start: (port) => startNodePeer(ctx, 'net-close', 'bare-net.mjs', port, OUR_LISTEN_SOCKETS),
    },
    {
      id: 'net-keepalive',
      label: 'bare node:net, keep-alive, 100 requests a connection, 256 listening sockets',
      upload: false,
      pipelining: false,
      only: ['get-ka', 'get-1000'],
      check: () => null,
      start: (port) => startNodePeer(ctx, 'net-keepalive', 'bare-net.mjs', port, ['--keep-alive', ...OUR_MAX_REQUESTS, ...OUR_LISTEN_SOCKETS]),
    },
    {
      id: 'python',
      label: 'python3 http.server',
      upload: false,
      pipelining: false,
      check: () => (ctx.tools.python3 ? null : 'python3 not found'),
      // http.server logs every request to stderr; that cost is part of it, the file is not needed.
      start: (port) => startProcess({
        cmd: ctx.tools.python3,
        args: ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', ctx.work.docroot],
        env: process.env,
        logFile: '/dev/null',
      }),
    },
  ];
}
