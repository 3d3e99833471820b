// The memory the server may hold for its settings: README's bound ("Memory"), term by term
// (docs/memory.md says why each holds), and what to say at start when the process's memory
// limit (a container's cgroup) is below it. Pure: the limit is given, not read.
import type { Config } from './config.js';
import { LOG_BUFFER_MAX_BYTES } from './log-output.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The settings the bound depends on. */
export type MemorySettings = Pick<Config, 'maxThreads' | 'maxBodyMemoryBytes' | 'maxBodyBytes' | 'fileCacheMaxBytes' | 'maxConnections' | 'maxRequestLineBytes' | 'maxHeaderBytes'>;

/** README's bound in bytes, term by term, and their sum. */
export interface MemoryBound {
  /** The process at rest: about 80 MiB, and 11 MiB per worker (measured on Node.js 24). */
  readonly atRest: number;
  /** The body budget, and one body copied to its exact size. */
  readonly bodies: number;
  /** The small-file cache. */
  readonly fileCache: number;
  /** Each connection's partial head, and 64 KiB of socket state and the read being parsed. */
  readonly connections: number;
  /** Each connection of a client that does not read: a 256 KiB file buffer and two bodies of up to 64 KiB. */
  readonly unreadResponses: number;
  /** Refused bodies read and dropped, waiting for V8 to collect them. */
  readonly droppedReads: number;
  /** The main thread's heap under load: young generation 16 MiB, old generation up to about 50. */
  readonly mainHeap: number;
  /** The admin port's 64 connections, each a read of 64 KiB and an answer (taken as 64 KiB). */
  readonly admin: number;
  /** Log lines held while stdout is not read: the buffer's cap in characters, up to two bytes each. */
  readonly logBuffer: number;
  readonly total: number;
}

export function memoryBound(settings: MemorySettings): MemoryBound {
  const terms = {
    atRest: 80 * MiB + settings.maxThreads * 11 * MiB,
    bodies: settings.maxBodyMemoryBytes + settings.maxBodyBytes,
    fileCache: settings.fileCacheMaxBytes,
    connections: settings.maxConnections * (settings.maxRequestLineBytes + settings.maxHeaderBytes + 64 * KiB),
    unreadResponses: settings.maxConnections * 384 * KiB,
    droppedReads: 100 * MiB,
    mainHeap: 66 * MiB,
    admin: 64 * (64 * KiB + 64 * KiB),
    logBuffer: 2 * LOG_BUFFER_MAX_BYTES,
  };
  return { ...terms, total: Object.values(terms).reduce((sum, bytes) => sum + bytes, 0) };
}

/**
 * The memory limit in what `process.constrainedMemory()` reports, or null for none: Node.js
 * reports 0 where no limit is known, and libuv passes on cgroup v2's `max` as 2^64 - 1 (and
 * cgroup v1 has no limit as about 2^63), far past any memory a machine has.
 */
export function memoryLimit(reported: number): number | null {
  return reported > 0 && Number.isSafeInteger(reported) ? reported : null;
}

const mib = (bytes: number): string => `${Math.round(bytes / MiB)} MiB`;

/**
 * What a warning about the memory limit says, or null when the limit covers the bound (or there
 * is none). `bound` is memoryBound(settings), computed once at start.
 */
export function memoryLimitWarning(limit: number | null, settings: MemorySettings, bound: MemoryBound): string | null {
  if (limit === null) return null;
  if (limit < bound.atRest) {
    return `the memory limit (${mib(limit)}) is below what the server holds at rest with MAX_THREADS=${settings.maxThreads} (about ${mib(bound.atRest)}, of a bound of ${mib(bound.total)}): expect it to be killed for memory (OOM) at start or under its first requests, with no log line; raise the limit (README, Memory) or lower MAX_THREADS (each worker about 11 MiB)`;
  }
  if (limit < bound.total) {
    const parts = [
      `MAX_CONNECTIONS=${settings.maxConnections}: ${mib(bound.connections + bound.unreadResponses)}`,
      `MAX_THREADS=${settings.maxThreads}: ${mib(bound.atRest)} at rest`,
      `MAX_BODY_MEMORY_BYTES + MAX_BODY_BYTES: ${mib(bound.bodies)}`,
      `FILE_CACHE_MAX_BYTES: ${mib(bound.fileCache)}`,
    ];
    return `the memory limit (${mib(limit)}) is below the server's memory bound for these settings (${mib(bound.total)}, README, Memory): clients that flood it may get it killed for memory (OOM); raise the limit or lower what the bound counts (${parts.join('; ')})`;
  }
  return null;
}
