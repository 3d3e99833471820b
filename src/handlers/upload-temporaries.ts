// Names of upload temporaries, and which of them the sweep after start may remove. Replicas
// that share one uploads folder all write their temporaries there, so a name says whose it
// is, and the sweep removes only what is provably abandoned: never another replica's upload
// in progress, nor one of this process's (its caller skips those).
import { hostname } from 'node:os';

/** Who writes a temporary: the host (in Kubernetes, the pod) and the process. */
export interface TempOwner {
  readonly host: string;
  readonly pid: number;
}

const PREFIX = '.upload-';
const SUFFIX = '.tmp';
/** Random bytes in a name (96 bits), written as hex. */
export const TEMP_RANDOM_BYTES = 12;

/**
 * How far the clocks of replicas and of the file server may disagree: on network storage a
 * file's modification time comes from the server's clock, not the replica's.
 */
export const CLOCK_MARGIN_MS = 60_000;

/** This process, as it names its temporaries. */
export function thisProcess(): TempOwner {
  return { host: hostname(), pid: process.pid };
}

/** Host names are letters, digits, dots and hyphens; anything else becomes `_`. */
function fileSafe(host: string): string {
  return host.replace(/[^A-Za-z0-9.-]/g, '_').slice(0, 64) || '_';
}

/**
 * `.upload-<host>-<pid>-<random>.tmp`, `random` being TEMP_RANDOM_BYTES in hex: it keeps the
 * names of one process's concurrent uploads apart. The leading dot keeps it from being served.
 */
export function temporaryName(owner: TempOwner, random: string): string {
  return `${PREFIX}${fileSafe(owner.host)}-${owner.pid}-${random}${SUFFIX}`;
}

/** Any upload temporary, including the owner-less `.upload-<hex>.tmp` of earlier versions. */
export function isTemporary(name: string): boolean {
  return name.startsWith(PREFIX) && name.endsWith(SUFFIX);
}

// The host may contain hyphens and digits; the pid is the last number before the random part.
const OWNED = new RegExp(`^\\.upload-(.+)-(\\d+)-[0-9a-f]{${TEMP_RANDOM_BYTES * 2}}\\.tmp$`);

/** Whose temporary `name` is, or null when it names no owner. */
export function ownerOf(name: string): TempOwner | null {
  const match = OWNED.exec(name);
  return match === null ? null : { host: match[1]!, pid: Number(match[2]) };
}

/**
 * Whether the sweep may remove `name`, last modified at `modifiedMs`. Three cases are provably
 * abandoned: a temporary of this very host and process id that is not one of this process's
 * uploads in flight (the caller leaves those out: abandoned-temporaries.ts), so written by an
 * earlier life of it (a restarted container is PID 1 on the same pod name again); one of this host whose process is no longer running (`isRunning`: a
 * server restarted outside a container gets a new pid); and one older than any upload can
 * run, since a worker holding a job past JOB_TIMEOUT_MS is terminated. Everything else may be
 * a live upload of another replica.
 */
export function isAbandoned(name: string, modifiedMs: number, nowMs: number, self: TempOwner, jobTimeoutMs: number, isRunning: (pid: number) => boolean): boolean {
  if (!isTemporary(name)) return false;
  const owner = ownerOf(name);
  if (owner !== null && owner.host === fileSafe(self.host) && (owner.pid === self.pid || !isRunning(owner.pid))) return true;
  return nowMs - modifiedMs > jobTimeoutMs + CLOCK_MARGIN_MS;
}
