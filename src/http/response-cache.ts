// The main thread's cache of small files, so a hot page costs no worker round trip. Entries
// live FILE_CACHE_TTL_MS: a file changed on disk is seen within that time, because a miss
// goes to a worker, which reads the file anew and refreshes the entry. When the byte budget is
// spent, entries not used lately go first: the second-chance (CLOCK) approximation of least
// recently used, because keeping exact recency order cost every hit a Map delete and insert.
// A file still asked for is read again shortly before its entry expires, by one job, so the
// entry is replaced in time: otherwise every request for a hot file in the moment after its
// expiry would miss and go to the pool at once. A file found unchanged then is not read at
// all, and its entry keeps its bytes: answers given from it still share them. Unless the
// bytes were read in the moment of the file's last change (CachedFile.settled): a second
// change may then hide behind the same times, and an entry renewed on their word would serve
// the old bytes for as long as the file stays hot; such a file is read again.
import { close as closeFd } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Response } from '../core/response.js';
import type { CachedFile, JobResult, Representation, StaticJob } from '../core/job.js';
import { acceptedEncodings } from '../handlers/conditional.js';
import { fullHeadFields, respondWith, type BodyReader } from '../handlers/representation.js';
import type { JobRunner } from '../pool/pool.js';
import { PreparedHead } from './head.js';

interface Entry extends CachedFile {
  /** What it is charged against the budget (costOf). */
  readonly cost: number;
  readonly expiresAt: number;
  /** From then on, a hit reads the file again (once: Infinity after). */
  refreshAt: number;
  /** Hit since eviction last passed it over. */
  used: boolean;
  /** Slices of the bytes as bodies; the whole file is one body object, made once. */
  readonly read: BodyReader;
  /** The head of the whole file's 200: what most hits send. */
  readonly fullHead: PreparedHead;
}

/**
 * What an entry costs beside its file's bytes and its key: the objects, head and closures
 * around them (the figure is in docs/memory.md). Charged so that many tiny files, or one file asked
 * for under many spellings of its path, cannot hold more than FILE_CACHE_MAX_BYTES.
 */
export const ENTRY_OVERHEAD_BYTES = 4096;

/** An entry's charge against the budget; a key's characters may take two bytes each. */
const costOf = (key: string, file: CachedFile): number => file.bytes.length + 2 * key.length + ENTRY_OVERHEAD_BYTES;

/** Distinct Accept-Encoding values remembered; clients send only a handful. */
const MAX_ENCODING_KEYS = 64;
/** The share of an entry's life after which a hit reads its file again. */
const REFRESH_AFTER = 0.75;

export class ResponseCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  /** Accept-Encoding value -> the encodings it accepts, joined; parsing one costs more than a hit. */
  private readonly encodingKeys = new Map<string, string>();

  /** `refresher` reads files again before their entries expire (none: entries just expire). */
  constructor(
    private readonly maxBytes: number,
    private readonly ttlMs: number,
    private readonly refresher: JobRunner<StaticJob, JobResult> | null = null,
    /** Milliseconds on the monotonic clock, as lookup and store are given (dispatch.ts). */
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Requests that name the same file and accept the same encodings share an entry. */
  private keyOf(job: StaticJob): string {
    const header = job.acceptEncoding;
    if (header === undefined) return `${job.path}\n`;
    let encodings = this.encodingKeys.get(header);
    if (encodings === undefined) {
      encodings = acceptedEncodings(header).join(',');
      if (this.encodingKeys.size >= MAX_ENCODING_KEYS) this.encodingKeys.clear();
      this.encodingKeys.set(header, encodings);
    }
    return `${job.path}\n${encodings}`;
  }

  /** The answer to a GET or HEAD from the cache, or null on a miss. */
  lookup(job: StaticJob, now: number): Response | null {
    if (job.method === 'POST') return null;
    const key = this.keyOf(job);
    const entry = this.entries.get(key);
    if (entry === undefined) return null;
    if (now >= entry.expiresAt) {
      this.remove(key, entry);
      return null;
    }
    entry.used = true;
    if (now >= entry.refreshAt) this.refresh(entry, job);
    return respondWith(job.method, job.conditions, entry.representation, entry.read, entry.fullHead);
  }

  store(job: StaticJob, file: CachedFile, now: number): void {
    if (this.ttlMs === 0) return;
    const key = this.keyOf(job);
    const cost = costOf(key, file);
    if (cost > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old !== undefined) this.remove(key, old);
    this.makeRoom(cost);
    const { bytes } = file;
    const wholeBody = { kind: 'bytes', bytes } as const;
    this.entries.set(key, {
      ...file,
      cost,
      expiresAt: now + this.ttlMs,
      refreshAt: now + this.ttlMs * REFRESH_AFTER,
      used: false,
      read: (start, length) => (length === bytes.length ? wholeBody : { kind: 'bytes', bytes: bytes.subarray(start, start + length) }),
      fullHead: new PreparedHead(fullHeadFields(file.representation)),
    });
    this.bytes += cost;
  }

  /**
   * Reads the entry's file again with one job (a plain GET for the same key, naming the file as
   * the entry holds it if its times can vouch for the bytes), which renews the entry when the
   * file is unchanged and replaces it when it comes back read and cacheable. Tried once per
   * entry: if the pool is full or the file changed kind, the entry expires as it would have.
   */
  private refresh(entry: Entry, job: StaticJob): void {
    entry.refreshAt = Infinity;
    if (this.refresher === null) return;
    const read: StaticJob = { kind: 'static', method: 'GET', path: job.path, conditions: {}, acceptEncoding: job.acceptEncoding, query: '', held: entry.settled ? entry.representation.facts : undefined };
    this.refresher.submit(read, (outcome) => {
      if (!outcome.ok) return;
      const { response, cacheable, unchanged } = outcome.result;
      // A file grown past the cache's size comes back open, to be streamed: nobody will.
      if (response.body.kind === 'file') closeFd(response.body.fd, () => undefined);
      if (unchanged !== undefined) this.renew(read, entry, unchanged);
      else if (cacheable !== undefined) this.store(read, cacheable, this.clock());
    });
  }

  /**
   * `entry`'s file is unchanged: the entry lives another TTL with the same bytes, and with the
   * representation as it is now. Not if the entry was dropped or replaced meanwhile: the bytes
   * are then no longer the cache's to keep.
   */
  private renew(job: StaticJob, entry: Entry, representation: Representation): void {
    if (this.entries.get(this.keyOf(job)) !== entry) return;
    this.store(job, { representation, bytes: entry.bytes, settled: entry.settled }, this.clock());
  }

  /**
   * Evicts until an entry costing `bytes` fits, oldest first (Map order is insertion order). An entry used
   * since it was last passed over is moved to the end instead, once; the new entry goes after it.
   */
  private makeRoom(bytes: number): void {
    for (const [oldestKey, oldest] of this.entries) {
      if (this.bytes + bytes <= this.maxBytes) break;
      if (oldest.used) {
        oldest.used = false;
        this.entries.delete(oldestKey);
        this.entries.set(oldestKey, oldest);
      } else {
        this.remove(oldestKey, oldest);
      }
    }
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.bytes -= entry.cost;
  }
}
