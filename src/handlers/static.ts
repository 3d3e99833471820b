// GET and HEAD for files under the document root and the uploads folder (and the 405 for a
// POST to one of them). Runs on a worker thread, so it uses the synchronous fs calls, which
// cost a fraction of the same calls through libuv's thread pool.
import type { Stats } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { errorResponse, redirectResponse, refusalResponse, RETRY_IN_A_SECOND, type HeaderList } from '../core/response.js';
import { STATIC_ALLOW, UPLOADS_PREFIX } from '../core/routes.js';
import type { ConditionalHeaders, FileFacts, JobResult, Representation, StaticJob, WorkLog } from '../core/job.js';
import { pathBelow, placeInRoot } from '../security/path.js';
import { fs } from './builtins.js';
import { acceptedEncodings, entityTag, type Encoding } from './conditional.js';
import { closeWatched, type DescriptorWatch } from './descriptors.js';
import { classify, presentationHeaders, type ContentTable } from './files.js';
import { notModified, respondWith } from './representation.js';
import { afterRead, realPathOf } from './file-changes.js';
import { isSettled } from './settled.js';

export interface StaticContext {
  /** Real (symlink-free) paths of the roots. */
  readonly resourcesRoot: string;
  readonly uploadsRoot: string;
  /** What each file extension is: shown inline, downloaded, or (absent) refused. */
  readonly contentTable: ContentTable;
  /** Files up to this size are read and sent in one piece; larger ones are streamed. */
  readonly smallFileBytes: number;
  /** Cache-Control for files of the document root (uploads are always no-store). */
  readonly cacheControl: string;
}

const ENCODING_SUFFIX: Readonly<Record<Encoding, string>> = { br: '.br', gzip: '.gz' };
// O_NONBLOCK: opening a FIFO someone left in the root must not block the worker forever.
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;

/** An open regular file or folder whose real path lies inside the root. */
interface Opened {
  readonly fd: number;
  readonly realPath: string;
  readonly stats: Stats;
  /** The wall clock just before `stats` was taken: what isSettled weighs them against. */
  readonly statedAtMs: number;
}

type Found =
  | { readonly ok: true; readonly file: Opened; readonly root: string }
  | { readonly ok: false; readonly result: JobResult };

/** Why a path could not be opened for serving. */
type OpenProblem = 'missing' | 'outside' | 'hidden' | 'denied' | 'exhausted' | { readonly failed: string };

const MISSING_CODES = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'ENXIO']);
const DENIED_CODES = new Set(['EACCES', 'EPERM']);
const EXHAUSTED_CODES = new Set(['EMFILE', 'ENFILE']);

function openProblem(error: unknown): OpenProblem {
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
  if (MISSING_CODES.has(code)) return 'missing';
  if (DENIED_CODES.has(code)) return 'denied';
  if (EXHAUSTED_CODES.has(code)) return 'exhausted';
  return { failed: code };
}

/**
 * A path that does not exist is refused like its nearest existing folder: beyond a link that
 * leads out of the root or to a hidden folder, a missing name must answer as a present one
 * would (403 either way), or the answers tell who asks what exists there.
 */
function missingWhere(path: string, root: string): 'missing' | 'outside' | 'hidden' {
  const below = pathBelow(dirname(path), root);
  // Above the root (the root itself was asked for, and is gone): missing, not outside.
  if (below === null) return 'missing';
  let realFolder: string;
  try {
    realFolder = fs.realpathSync.native(deepestResolving(root, below));
  } catch {
    // The root itself is gone, or the folder went since it was looked at.
    return 'missing';
  }
  const place = placeInRoot(realFolder, root);
  return place === 'inside' ? 'missing' : place;
}

/**
 * The deepest of the folder `below` the root and its ancestors that resolves, sought from the
 * root down: a path resolves only if each of its ancestors does, so the first that does not
 * ends the search. A request naming thousands of missing folders costs one look past the
 * folders that exist, not one per name it holds.
 */
function deepestResolving(root: string, below: string): string {
  let reached = root;
  for (const name of below.split(sep)) {
    if (name === '') continue;
    const next = join(reached, name);
    if (!resolves(next)) break;
    reached = next;
  }
  return reached;
}

/** Whether `path` leads to something: a missing name, a file taken for a folder, a loop or a name too long does not. */
function resolves(path: string): boolean {
  try {
    return fs.statSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/** `path` is a regular file, or why it cannot be served: a name too long or a symlink loop is missing, not a failure. */
function statFile(path: string): 'file' | OpenProblem {
  try {
    return fs.statSync(path, { throwIfNoEntry: false })?.isFile() === true ? 'file' : 'missing';
  } catch (error) {
    return openProblem(error);
  }
}

/**
 * Opens first and checks the descriptor's real path after, so a symlink swapped in between
 * cannot redirect the read: what is checked is exactly what is sent. The descriptor is
 * reported to `watch` at once, and every close of it goes through closeWatched: a worker
 * stopped in a call on it (an fstat or a read on a hung mount) leaves it to the pool to close.
 */
function openInside(path: string, root: string, watch: DescriptorWatch): Opened | OpenProblem {
  let fd: number;
  try {
    fd = fs.openSync(path, OPEN_FLAGS);
  } catch (error) {
    const problem = openProblem(error);
    return problem === 'missing' ? missingWhere(path, root) : problem;
  }
  watch.opened(fd);
  try {
    const statedAtMs = Date.now();
    const stats = fs.fstatSync(fd);
    const realPath = realPathOf(fd, path, stats);
    const place = placeInRoot(realPath, root);
    // Outside: a symlink led out of the root. Hidden: one led to a hidden file or folder.
    if (place !== 'inside') {
      closeWatched(fd, watch);
      return place;
    }
    if (!stats.isFile() && !stats.isDirectory()) {
      closeWatched(fd, watch);
      return 'missing';
    }
    return { fd, realPath, stats, statedAtMs };
  } catch (error) {
    closeWatched(fd, watch);
    throw error;
  }
}

/** The answer to a path that could not be opened. */
function refuseOpen(problem: OpenProblem, method: string): JobResult {
  switch (problem) {
    case 'missing':
      return { response: errorResponse(404, method) };
    case 'outside':
      return { response: refusalResponse('outside_root', method), log: { level: 'warn', message: 'security refusal', fields: { detail: 'path resolves outside the document root' } } };
    case 'hidden':
      return { response: refusalResponse('hidden_file', method), log: { level: 'warn', message: 'security refusal', fields: { detail: 'path resolves to a hidden file or folder' } } };
    case 'denied':
      return { response: refusalResponse('not_readable', method), log: { level: 'warn', message: 'file not readable by the server' } };
    case 'exhausted':
      // Out of file descriptors: a passing condition, so the client may retry.
      return { response: refusalResponse('too_many_open_files', method, RETRY_IN_A_SECOND), log: { level: 'error', message: 'too many open files (EMFILE/ENFILE): cannot open the file', oncePerSecond: true } };
    default:
      return { response: errorResponse(500, method), log: { level: 'error', message: 'cannot open the file', fields: { code: problem.failed } } };
  }
}

const isOpened = (result: Opened | OpenProblem): result is Opened => typeof result === 'object' && 'fd' in result;

// RFC 3986 §3.4: a query holds pchar (unreserved, %XX, sub-delims, ":", "@"), "/" and "?".
const NOT_IN_URI_QUERY = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]|%(?![0-9A-Fa-f]{2})/gu;

/**
 * A request's query as a Location may carry it: what a URI query cannot hold (`"`, `<`, `>`,
 * a `%` that starts no escape, ...) percent-encoded as UTF-8, the rest, escapes included, as sent.
 */
function asUriQuery(query: string): string {
  return query.replace(NOT_IN_URI_QUERY, (character) => encodeURIComponent(character));
}

/** Finds the file a checked path names, following symlinks only while they stay inside the root. */
function find(job: StaticJob, context: StaticContext, watch: DescriptorWatch): Found {
  const inUploads = job.path === UPLOADS_PREFIX || job.path.startsWith(`${UPLOADS_PREFIX}/`);
  const root = inUploads ? context.uploadsRoot : context.resourcesRoot;
  let candidate = join(root, inUploads ? job.path.slice(UPLOADS_PREFIX.length) : job.path);
  for (let attempt = 0; attempt < 2; attempt++) {
    const opened = openInside(candidate, root, watch);
    if (!isOpened(opened)) return { ok: false, result: refuseOpen(opened, job.method) };
    if (opened.stats.isFile()) return { ok: true, file: opened, root };
    closeWatched(opened.fd, watch);
    // A folder serves its index.html, never a listing; `/docs` first redirects to `/docs/`,
    // so the page's relative links resolve inside the folder.
    candidate = join(opened.realPath, 'index.html');
    // A POST is refused by what it names, the folder's page, and never redirected (a client may resend it as a GET).
    if (attempt === 0 && !job.path.endsWith('/') && job.method !== 'POST') {
      const index = statFile(candidate);
      if (index !== 'file') return { ok: false, result: refuseOpen(index, job.method) };
      const location = `${job.path.split('/').map(encodeURIComponent).join('/')}/${asUriQuery(job.query)}`;
      return { ok: false, result: { response: redirectResponse(location, job.method) } };
    }
  }
  return { ok: false, result: refuseOpen('missing', job.method) };
}

function readRange(fd: number, start: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let at = 0;
  while (at < length) {
    const read = fs.readSync(fd, bytes, at, length - at, start + at);
    if (read === 0) return bytes.subarray(0, at);
    at += read;
  }
  return bytes;
}

type InlineOrDownload = Exclude<ReturnType<typeof classify>, { kind: 'unsupported' }>;

interface EncodingChoice {
  /** Whether precompressed siblings exist at all (the response then varies by Accept-Encoding). */
  readonly varies: boolean;
  readonly chosen: { readonly encoding: Encoding; readonly file: Opened } | null;
  /** A sibling the client accepts, passed over for being older than its page: its path. */
  readonly stale: string | null;
}

const NO_ENCODING: EncodingChoice = { varies: false, chosen: null, stale: null };

/**
 * Whether a sibling is as new as its page, in whole seconds: compressors and copies keep the
 * page's time cut to the second (brotli, pigz) or to the millisecond (Node's utimes, fs.cp),
 * so a finer comparison would find every such sibling older than its page.
 */
function isAsNewAs(sibling: Stats, page: Stats): boolean {
  return Math.floor(sibling.mtimeMs / 1000) >= Math.floor(page.mtimeMs / 1000);
}

/**
 * Precompressed siblings (`name.html.br`, `name.html.gz`), and the one to send, opened. A
 * sibling modified in a second before its page's was made from an earlier version: sent, it
 * would show the clients that accept its encoding another page than the rest get.
 */
function chooseEncoding(page: Opened, root: string, acceptEncoding: string | undefined, watch: DescriptorWatch): EncodingChoice {
  const existing = (Object.keys(ENCODING_SUFFIX) as Encoding[]).filter(
    // A cheap stat first: most pages have no siblings, and a failed open costs an exception.
    (encoding) => statFile(page.realPath + ENCODING_SUFFIX[encoding]) === 'file',
  );
  let stale: string | null = null;
  for (const encoding of acceptedEncodings(acceptEncoding)) {
    if (!existing.includes(encoding)) continue;
    const opened = openInside(page.realPath + ENCODING_SUFFIX[encoding], root, watch);
    if (!isOpened(opened)) continue;
    if (opened.stats.isFile() && isAsNewAs(opened.stats, page.stats)) return { varies: true, chosen: { encoding, file: opened }, stale };
    if (opened.stats.isFile()) stale ??= opened.realPath;
    closeWatched(opened.fd, watch);
  }
  return { varies: existing.length > 0, chosen: null, stale };
}

/** The warning for a sibling passed over, once a second per file at most (dispatch.ts). */
function staleSiblingLog(path: string): WorkLog {
  return { level: 'warn', message: 'precompressed file older than its page: not served', fields: { file: path }, oncePerSecond: true };
}

/** The headers of the file as sent: presentation, encoding, ranges and validators. */
function representationOf(file: Opened, name: string, presentation: InlineOrDownload, encoding: EncodingChoice, cacheControl: string): Representation {
  const { size, mtimeMs, ino, ctimeMs } = file.stats;
  const etag = entityTag(size, mtimeMs, encoding.chosen?.encoding);
  const validators: HeaderList = [
    ['ETag', etag],
    // Never later than the response's Date (RFC 9110 §8.8.2.1): a file can be stamped ahead of our clock.
    ['Last-Modified', new Date(Math.min(mtimeMs, Date.now())).toUTCString()],
    ['Cache-Control', cacheControl],
    ...(encoding.varies ? ([['Vary', 'Accept-Encoding']] as const) : []),
  ];
  const headers: HeaderList = [
    ...presentationHeaders(presentation, name),
    ...(encoding.chosen !== null ? ([['Content-Encoding', encoding.chosen.encoding]] as const) : []),
    ['Accept-Ranges', 'bytes'],
    ...validators,
  ];
  return { headers, validators, facts: { size, mtimeMs, etag, ino, ctimeMs } };
}

/**
 * The file is the one the cache holds, unchanged since: the same file (inode), not changed in
 * any way since (its change and modification times), and in the same representation (the tag
 * names the encoding).
 */
function isHeld(facts: FileFacts, held: FileFacts | undefined): boolean {
  return held !== undefined && facts.ino === held.ino && facts.ctimeMs === held.ctimeMs && facts.mtimeMs === held.mtimeMs && facts.etag === held.etag;
}

/**
 * The response for an open file. A small file is read whole once: it answers this request and
 * fills the main thread's cache, unless the cache asks and holds it already. A larger one, and
 * any range of it, is streamed by the connection, which then owns (and closes) the descriptor:
 * `keptOpen` says so. Either way the body is never shorter than the Content-Length its head
 * announces.
 */
function respondFromFile(method: 'GET' | 'HEAD', conditions: ConditionalHeaders, held: FileFacts | undefined, file: Opened, representation: Representation, smallFileBytes: number): { result: JobResult; keptOpen: boolean } {
  const { size } = representation.facts;
  if (size <= smallFileBytes) {
    if (isHeld(representation.facts, held)) return { result: { response: notModified(representation), unchanged: representation }, keptOpen: false };
    const bytes = readRange(file.fd, 0, size);
    const after = bytes.length < size ? 'changed' : afterRead(file.stats, fs.fstatSync(file.fd));
    // Rewritten while being read (shorter than its size a moment ago, or changed since the
    // stat its ETag comes from): the bytes may belong to another version than the tag. Nothing
    // is sent yet, and a moment later the file is whole: 503 with Retry-After says so.
    if (after === 'changed') return { result: { response: refusalResponse('file_changed', method, RETRY_IN_A_SECOND), log: { level: 'warn', message: 'file changed while being read: 503' } }, keptOpen: false };
    const response = respondWith(method, conditions, representation, (start, length) => ({ kind: 'bytes', bytes: bytes.subarray(start, start + length) }));
    // An unlinked file is sent (a whole version, as it was when asked for) but not cached: its name serves another now.
    if (after === 'unlinked') return { result: { response }, keptOpen: false };
    return { result: { response, cacheable: { representation, bytes, settled: isSettled(file.stats, file.statedAtMs) } }, keptOpen: false };
  }
  // Streamed: if the file turns out shorter than announced, the sender closes the connection
  // rather than let the next response stand in for the missing bytes.
  let keptOpen = false;
  const response = respondWith(method, conditions, representation, (start, length) => {
    keptOpen = true;
    return { kind: 'file', fd: file.fd, start, length };
  });
  return { result: { response }, keptOpen };
}

/**
 * The answer to a static job. Every descriptor it opens is reported to `watch` and forgotten
 * before it is closed; one handed over in the result stays reported, as the result's own.
 */
export function serveStatic(job: StaticJob, context: StaticContext, watch: DescriptorWatch): JobResult {
  const found = find(job, context, watch);
  if (!found.ok) return found.result;
  let file = found.file;
  let keptOpen = false;
  try {
    if (job.method === 'POST') return { response: refusalResponse('method_not_allowed', job.method, [['Allow', STATIC_ALLOW]]) };
    const name = basename(file.realPath);
    const presentation = classify(name, context.contentTable);
    if (presentation.kind === 'unsupported') return { response: refusalResponse('file_type_not_served', job.method) };
    // Attachments are sent as stored; only pages shown inline may come precompressed.
    const encoding = presentation.kind === 'inline' ? chooseEncoding(file, found.root, job.acceptEncoding, watch) : NO_ENCODING;
    if (encoding.chosen !== null) {
      // Swapped before the close: were the close to throw, `finally` closes the variant, not this number again.
      const plain = file;
      file = encoding.chosen.file;
      closeWatched(plain.fd, watch);
    }
    // An upload is never shared, whichever URL reaches it: one in a folder of the document
    // root (UPLOADS_DIR inside RESOURCES_DIR), or behind a link there, is still an upload.
    const cacheControl = pathBelow(file.realPath, context.uploadsRoot) !== null ? 'no-store' : context.cacheControl;
    const representation = representationOf(file, name, presentation, encoding, cacheControl);
    const answer = respondFromFile(job.method, job.conditions, job.held, file, representation, context.smallFileBytes);
    keptOpen = answer.keptOpen;
    return encoding.stale !== null && answer.result.log === undefined ? { ...answer.result, log: staleSiblingLog(encoding.stale) } : answer.result;
  } finally {
    if (!keptOpen) closeWatched(file.fd, watch);
  }
}
