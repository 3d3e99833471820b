// Steady traffic through a load balancer, bounded in count and time: small GETs, a large
// (streamed) GET and uploads, each checked byte for byte, every failure kept with its reason.
// Then the uploads folder is audited against what was sent and answered.
import { request as httpRequest, Agent } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type TrafficKind = 'small GET' | 'large GET' | 'upload';

export interface Failure {
  readonly kind: TrafficKind;
  /** `ECONNRESET`, `status 502`, `body differs (n of m bytes)`, ... */
  readonly reason: string;
}

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

const REQUEST_TIMEOUT_MS = 10_000;

/** One request; rejects on any connection error, reset or timeout. `host`: another Host header. */
export function send(agent: Agent, port: number, method: string, path: string, body?: Buffer, host?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = body === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': body.length };
    if (host !== undefined) headers.Host = host;
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent, headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

export interface Expected {
  readonly smallPath: string;
  readonly small: Buffer;
  readonly largePath: string;
  readonly large: Buffer;
}

/** Everything one run of traffic did. */
export class TrafficLog {
  readonly sent = new Map<TrafficKind, number>([['small GET', 0], ['large GET', 0], ['upload', 0]]);
  readonly failures: Failure[] = [];
  /** Every upload body sent (as text, they are unique), with the name a 201 gave it, or null. */
  readonly uploads = new Map<string, string | null>();

  get total(): number {
    return [...this.sent.values()].reduce((sum, count) => sum + count, 0);
  }

  get answered201(): number {
    return [...this.uploads.values()].filter((name) => name !== null).length;
  }

  failuresBy(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const failure of this.failures) counts[`${failure.kind}: ${failure.reason}`] = (counts[`${failure.kind}: ${failure.reason}`] ?? 0) + 1;
    return counts;
  }
}

function reasonOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

export interface TrafficOptions {
  readonly port: number;
  readonly expected: Expected;
  /** Requests each loop sends at most. */
  readonly maxPerLoop: number;
  /** A tag that makes this run's upload bodies unique. */
  readonly run: string;
}

/**
 * Starts 2 small-GET loops, 1 large-GET loop and 2 upload loops (5 requests in flight at
 * most) over keep-alive connections. `stop()` ends them after their current request.
 */
export function startTraffic(options: TrafficOptions): { log: TrafficLog; stop: () => Promise<TrafficLog> } {
  const log = new TrafficLog();
  const agent = new Agent({ keepAlive: true, maxSockets: 5 });
  let running = true;
  const count = (kind: TrafficKind): void => void log.sent.set(kind, log.sent.get(kind)! + 1);

  const get = async (kind: TrafficKind, path: string, content: Buffer): Promise<void> => {
    count(kind);
    try {
      const reply = await send(agent, options.port, 'GET', path);
      if (reply.status !== 200) log.failures.push({ kind, reason: `status ${reply.status}` });
      else if (!reply.body.equals(content)) log.failures.push({ kind, reason: `body differs (${reply.body.length} of ${content.length} bytes)` });
    } catch (error) {
      log.failures.push({ kind, reason: reasonOf(error) });
    }
  };
  const upload = async (writer: number, seq: number): Promise<void> => {
    count('upload');
    const text = JSON.stringify({ run: options.run, writer, seq, note: 'x'.repeat((seq % 7) * 300) });
    log.uploads.set(text, null);
    try {
      const reply = await send(agent, options.port, 'POST', '/upload', Buffer.from(text));
      if (reply.status === 201) log.uploads.set(text, String(reply.headers.location).replace('/uploads/', ''));
      else log.failures.push({ kind: 'upload', reason: `status ${reply.status}` });
    } catch (error) {
      log.failures.push({ kind: 'upload', reason: reasonOf(error) });
    }
  };

  const loop = async (step: (i: number) => Promise<void>): Promise<void> => {
    for (let i = 0; running && i < options.maxPerLoop; i++) await step(i);
  };
  const { expected } = options;
  const loops = [
    loop(() => get('small GET', expected.smallPath, expected.small)),
    loop(() => get('small GET', expected.smallPath, expected.small)),
    loop(() => get('large GET', expected.largePath, expected.large)),
    loop((i) => upload(1, i)),
    loop((i) => upload(2, i)),
  ];
  return {
    log,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return log;
    },
  };
}

export interface UploadAudit {
  readonly filesOnDisk: number;
  /** Answered 201, but the file is missing or holds other bytes. */
  readonly lost: string[];
  /** One body stored under more than one name. */
  readonly duplicated: string[];
  /** A visible file whose bytes are no complete body that was sent: a partial write. */
  readonly partial: string[];
  /** Stored, but the client got no 201 (the replica died before answering). */
  readonly storedUnanswered: string[];
  /** Temporaries (dot files) left in the folder. */
  readonly temporaries: string[];
}

/** Compares the uploads folder with what `logs` sent and were answered. */
export function auditUploads(dir: string, logs: readonly TrafficLog[]): UploadAudit {
  const names = readdirSync(dir);
  const visible = names.filter((name) => !name.startsWith('.'));
  const sent = new Map(logs.flatMap((log) => [...log.uploads]));
  const stored = new Map<string, string[]>();
  const partial: string[] = [];
  for (const name of visible) {
    const text = readFileSync(join(dir, name), 'utf8');
    if (!sent.has(text)) partial.push(name);
    else stored.set(text, [...(stored.get(text) ?? []), name]);
  }
  const lost = [...sent].filter(([text, name]) => name !== null && !(stored.get(text) ?? []).includes(name)).map(([, name]) => name!);
  return {
    filesOnDisk: visible.length,
    lost,
    duplicated: [...stored].filter(([, files]) => files.length > 1).flatMap(([, files]) => files),
    partial,
    storedUnanswered: [...stored].filter(([text]) => sent.get(text) === null).flatMap(([, files]) => files),
    temporaries: names.filter((name) => name.startsWith('.upload-')),
  };
}
