// Watches the process's open file descriptors. At the limit, libuv accepts and at once
// closes new connections (so the listener does not spin) without telling Node, so running
// out of descriptors would otherwise go unseen: the monitor logs it, and says when it ends.
import { readdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { DESCRIPTORS_PER_CONNECTION } from './connection-settings.js';

/** Descriptors kept free below the limit: past this, accepts and file opens start failing. */
const FD_HEADROOM = 16;

/**
 * Descriptors MAX_CONNECTIONS may hold at most: each connection served its socket and files
 * (DESCRIPTORS_PER_CONNECTION); as many again that the server has finished with, one socket
 * each, which do not count toward the cap while they close (see HttpServer.atCapacity); and
 * as many refused ones, a socket each while their 503 leaves (HttpServer.refuse).
 */
export function descriptorsForConnections(maxConnections: number): number {
  return maxConnections * (DESCRIPTORS_PER_CONNECTION + 2);
}

/**
 * Whether every descriptor the connections may hold fits under the limit beside those the
 * server holds already (listening sockets, worker threads, logs), with the headroom to spare.
 */
export function connectionsFit(limit: number, openAlready: number, maxConnections: number): boolean {
  return openAlready + descriptorsForConnections(maxConnections) + FD_HEADROOM <= limit;
}

export class FdMonitor {
  private exhausted = false;
  private checking = false;

  private constructor(
    private readonly limit: number,
    private readonly log: Logger,
  ) {}

  /**
   * A monitor for this process under its soft open-file `limit` (as read at start, see
   * config.ts), or null where there is none or /proc is not available. Made once the server
   * listens, so the descriptors it counts as held include the listening sockets.
   */
  static forThisProcess(log: Logger, maxConnections: number, limit: number | null): FdMonitor | null {
    if (limit === null) return null;
    let openAlready: number;
    try {
      openAlready = readdirSync('/proc/self/fd').length;
    } catch {
      return null;
    }
    if (!connectionsFit(limit, openAlready, maxConnections)) {
      const needed = descriptorsForConnections(maxConnections);
      log.warn({ maxConnections, descriptorsForConnections: needed, openFiles: openAlready, openFileLimit: limit }, 'MAX_CONNECTIONS is close to the open-file limit (each connection may hold its socket and the files of its pipelined downloads, and finished ones hold a socket while they close): connections past the limit are dropped unanswered instead of getting 503; raise `ulimit -n` or lower MAX_CONNECTIONS');
    }
    return new FdMonitor(limit, log);
  }

  /** Counts open descriptors (asynchronously) and logs entering and leaving exhaustion. */
  check(): void {
    if (this.checking) return;
    this.checking = true;
    readdir('/proc/self/fd').then(
      (entries) => {
        this.checking = false;
        const open = entries.length;
        const atLimit = open >= this.limit - FD_HEADROOM;
        if (atLimit && !this.exhausted) {
          this.log.error({ code: 'EMFILE', openFiles: open, limit: this.limit }, 'accept failing: too many open files, new connections are dropped');
        } else if (!atLimit && this.exhausted) {
          this.log.warn({ openFiles: open, limit: this.limit }, 'open files below the limit again, accepting connections');
        }
        this.exhausted = atLimit;
      },
      // The readdir itself needs a descriptor: failing for lack of one is exhaustion too.
      (error: NodeJS.ErrnoException) => {
        this.checking = false;
        if ((error.code === 'EMFILE' || error.code === 'ENFILE') && !this.exhausted) {
          this.exhausted = true;
          this.log.error({ code: error.code, limit: this.limit }, 'accept failing: too many open files, new connections are dropped');
        }
      },
    );
  }
}
