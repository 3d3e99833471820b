// nginx as a shared cache in front of the server: the configuration docs/deploy.md recommends
// (built here, so the page and the test cannot drift apart), and a started nginx that the test
// owns as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { accepting } from './raw.js';

export interface CacheSettings {
  /** nginx's `listen` argument: `80`, or `127.0.0.1:PORT` in the test. */
  readonly listen: string;
  /** The host name clients use, which the server's ALLOWED_HOSTS names. */
  readonly serverName: string;
  /** The server's public `address:port`. */
  readonly origin: string;
  /** Where nginx keeps the cached responses. */
  readonly cachePath: string;
}

/**
 * The nginx configuration of docs/deploy.md, the part inside `http { }`. The server decides
 * what may be stored (CACHE_CONTROL for files; no-store for uploads, errors and redirects);
 * nginx keeps what it may, revalidates it with the file's validators once it is stale, and
 * keeps one variant per Accept-Encoding (the server's Vary).
 */
export function nginxCacheConfig(settings: CacheSettings): string {
  return `proxy_cache_path ${settings.cachePath} levels=1:2 keys_zone=rawhttp:10m max_size=1g inactive=1h;

upstream rawhttp {
    server ${settings.origin};
    keepalive 16;
}

server {
    listen ${settings.listen};
    server_name ${settings.serverName};
    # The server's MAX_BODY_BYTES (1 MiB by default): a larger upload gets nginx's 413.
    client_max_body_size 1m;

    location / {
        proxy_pass http://rawhttp;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        # The name the client asked for, which ALLOWED_HOSTS lists: nginx's default Host is
        # the upstream's name ("rawhttp"), which the server answers with 403.
        proxy_set_header Host $host;
        # The client's address, believed from addresses listed in TRUSTED_PROXIES.
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_cache rawhttp;
        # A stale entry is checked with If-None-Match and If-Modified-Since: a file that has
        # not changed costs the server a 304, and the entry is fresh again.
        proxy_cache_revalidate on;
        # Stored with a response, the trace id of the request that filled the cache would be
        # shown to every later client (a client can choose it, with traceparent).
        proxy_hide_header X-Trace-Id;
        add_header X-Cache-Status $upstream_cache_status always;
    }
}
`;
}

export interface Cache {
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * nginx with nginxCacheConfig() inside an `http { }` of its own: every path it writes (pid,
 * logs, temporary bodies, the cache) in `dir`, in the foreground, as this user.
 */
export async function startCache(dir: string, settings: CacheSettings, port: number): Promise<Cache> {
  const temporaries = join(dir, 'temporaries');
  mkdirSync(temporaries, { recursive: true });
  const file = join(dir, 'nginx.conf');
  // Started as root, nginx's workers would switch to its build's user, which may not enter `dir`.
  const ownUser = process.getuid?.() === 0 ? `user ${userInfo().username};\n` : '';
  writeFileSync(
    file,
    `pid ${join(dir, 'nginx.pid')};
${ownUser}error_log stderr warn;
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `    ${kind}_temp_path ${join(temporaries, kind)};`).join('\n')}
${nginxCacheConfig(settings)}}
`,
  );
  const child = spawn('nginx', ['-p', dir, '-c', file, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let attempt = 0; !(await accepting(port)); attempt++) {
    if (attempt === 100 || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not start: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    process: child,
    stop: async () => {
      // SIGQUIT: nginx's graceful stop; its master waits for the worker before exiting.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT');
      await exited;
    },
  };
}
