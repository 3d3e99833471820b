// haproxy in front of several replicas: the configuration docs/deploy.md recommends (built
// here, so the page and the test cannot drift apart), a started haproxy, and the server
// states its stats socket reports.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

export interface Backend {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly adminPort: number;
}

export interface BalancerSettings {
  readonly bind: string;
  readonly backends: readonly Backend[];
  /** Health-check interval and the failures that mark a replica down (rise: successes up). */
  readonly checkIntervalMs: number;
  readonly fall: number;
  readonly rise: number;
  /** Where haproxy answers `show stat`; the test reads replica states there. */
  readonly statsSocket: string;
}

/**
 * The haproxy configuration of docs/deploy.md. A replica is down after `fall` failed checks of
 * /readyz, which answers 503 from the first moment of a shutdown: SHUTDOWN_DELAY_MS must
 * outlast that detection time (`interval` x `fall`, plus one check timeout).
 */
export function haproxyConfig(settings: BalancerSettings): string {
  const { checkIntervalMs, fall, rise } = settings;
  const servers = settings.backends.map((backend) => `    server ${backend.name} ${backend.address}:${backend.port} check port ${backend.adminPort}`);
  return `global
    stats socket ${settings.statsSocket} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout queue 10s
    timeout check ${checkIntervalMs}ms
    # A failed attempt goes to another replica (redispatch on every retry).
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout

frontend web
    bind ${settings.bind}
    default_backend rawhttp

backend rawhttp
    # A connection that could not be made carried no request, so any request is retried
    # then; one the replica took and never answered (it died, or timed out) is retried for
    # GET and HEAD only, so an upload is never stored twice.
    http-request disable-l7-retry unless METH_GET
    balance leastconn
    option httpchk
    http-check send meth GET uri /readyz
    http-check expect status 200
    # maxconn stays below each replica's MAX_CONNECTIONS (1024), with room for the idle
    # connections haproxy keeps for reuse: extra requests wait in haproxy's queue instead of
    # meeting the replica's 503. Unused idle connections are closed, half of them every
    # pool-purge-delay, mostly long before the replica's 30 s KEEP_ALIVE_TIMEOUT_MS.
    default-server inter ${checkIntervalMs}ms fall ${fall} rise ${rise} maxconn 900 pool-max-conn 100 pool-purge-delay 5s
${servers.join('\n')}
`;
}

/** The haproxy on PATH, or null. */
export function haproxyVersion(): string | null {
  const result = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) return null;
  return result.stdout.split('\n')[0]!.trim();
}

/** `haproxy -c`: parses the configuration without binding or connecting anything. */
export function checkConfig(dir: string, config: string): { ok: boolean; output: string } {
  const file = join(dir, 'check.cfg');
  writeFileSync(file, config);
  const result = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

export interface Balancer {
  readonly process: ChildProcess;
  /** Replica name -> `UP`, `DOWN`, `UP 1/2` (going down), `DOWN 1/2` (coming up), ... */
  states(): Promise<Map<string, string>>;
  stop(): Promise<void>;
}

/** `show stat` over the stats socket, as CSV. */
function askStats(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
    socket.end('show stat\n');
  });
}

export async function startBalancer(dir: string, settings: BalancerSettings): Promise<Balancer> {
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, haproxyConfig(settings));
  // -db: stay in the foreground, so the test owns the process and its output.
  const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const states = async (): Promise<Map<string, string>> => {
    const rows = (await askStats(settings.statsSocket)).split('\n').map((line) => line.split(','));
    const header = rows[0]!;
    const status = header.indexOf('status');
    return new Map(rows.filter((row) => row[0] === 'rawhttp' && row[1] !== 'BACKEND').map((row) => [row[1]!, row[status]!]));
  };
  // Ready once the stats socket answers.
  for (let attempt = 0; ; attempt++) {
    try {
      await states();
      break;
    } catch (error) {
      if (attempt === 100 || child.exitCode !== null) throw new Error(`haproxy did not start: ${stderr || String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    process: child,
    states,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
