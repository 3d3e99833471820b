// The tokens that may POST /upload: UPLOAD_TOKENS (a list) and UPLOAD_TOKENS_FILE (one token
// per line). I/O and a timer, so it lives with the engine, not among the pure rules of
// src/security: the file is read at start and then polled. A mounted Kubernetes
// Secret changes by an atomic swap of a symbolic link (`..data`) to a new folder, which a
// watch on the file's inode never sees; reading a small file every few seconds always does.
import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { tokenProblem, TokenSet } from '../security/bearer.js';

/** How often the file is read again. Kubernetes itself takes up to a minute to update a Secret. */
const POLL_INTERVAL_MS = 2000;
/** A token file is a few lines; anything larger is a mistake (a wrong path, say). */
const MAX_FILE_BYTES = 64 * 1024;

/** A read of the file: its text, and which file it was (its inode), to tell an edit in place from a replacement. */
interface TokenFileRead {
  readonly text: string;
  readonly inode: number;
}

export type TokenFileParse = { readonly ok: true; readonly tokens: readonly string[] } | { readonly ok: false; readonly problem: string };

/** One token per line; blank lines and lines starting with `#` are ignored. Names lines, never tokens. */
export function parseTokenFile(text: string): TokenFileParse {
  const tokens: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const problem = tokenProblem(line);
    if (problem !== null) return { ok: false, problem: `line ${i + 1} is ${problem}` };
    tokens.push(line);
  }
  return { ok: true, tokens };
}

/** What the reloads say; a pino logger fits. */
export interface TokenLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface UploadTokenOptions {
  /** UPLOAD_TOKENS, validated by the configuration. */
  readonly listed: readonly string[];
  /** UPLOAD_TOKENS_FILE, or '' for none. */
  readonly file: string;
  readonly log: TokenLog;
  readonly pollIntervalMs?: number;
}

export class UploadTokens {
  private current: TokenSet;
  /** The file's text behind `current`. */
  private loadedText: string;
  /** The inode of the file that text was read from. */
  private loadedInode: number;
  /** What the last read saw, when it differed from `loadedText` (see check). */
  private lastSeen: string | null = null;
  /** The last problem logged: each is logged once. */
  private reportedProblem: string | null = null;
  private timer: NodeJS.Timeout | null = null;

  private constructor(private readonly options: UploadTokenOptions, { text, inode }: TokenFileRead, tokens: readonly string[]) {
    this.loadedText = text;
    this.loadedInode = inode;
    this.current = new TokenSet([...options.listed, ...tokens]);
  }

  /**
   * Null when no token is configured (uploads stay open). Reads the file once, and throws
   * when it cannot be read or holds a line that is not a token: a bad file fails the start.
   */
  static start(options: UploadTokenOptions): UploadTokens | null {
    if (options.listed.length === 0 && options.file === '') return null;
    if (options.file === '') return new UploadTokens(options, { text: '', inode: 0 }, []);
    const read = readTokenFileSync(options.file);
    const parsed = parseTokenFile(read.text);
    if (!parsed.ok) throw new Error(`UPLOAD_TOKENS_FILE ${options.file}: ${parsed.problem}`);
    const tokens = new UploadTokens(options, read, parsed.tokens);
    tokens.schedulePoll();
    return tokens;
  }

  /** The tokens accepted now. */
  get tokens(): TokenSet {
    return this.current;
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * Reads the file once (the timer calls this). A change is acted on only when two reads in
   * a row agree: a file rewritten in place can be read half-written (empty, or a token cut
   * short), and a moment later it is whole. One whose writer stalled stays half-written, so
   * of a file changed in place only the lines that end are read: a token cut short has no
   * newline yet, and a revocation still applies. A file replaced whole (a renamed file, a
   * Kubernetes Secret) is complete as it is.
   */
  async check(): Promise<void> {
    const seen = await readTokenFile(this.options.file).then(
      (read) => read,
      (error: Error) => ({ problem: `cannot be read: ${error.message}` }),
    );
    const key = 'text' in seen ? `text:${seen.text}` : `problem:${seen.problem}`;
    if ('text' in seen && seen.text === this.loadedText) {
      // Back to what is loaded: a problem that comes again is news again. The text may now be
      // another file's (replaced by the same tokens): a later edit of it is one in place.
      this.loadedInode = seen.inode;
      this.lastSeen = null;
      this.reportedProblem = null;
      return;
    }
    const settled = key === this.lastSeen;
    this.lastSeen = key;
    if (!settled) return;
    if ('problem' in seen) return this.keepOld(seen.problem);
    this.load(seen, seen.inode === this.loadedInode);
  }

  /** `inPlace`: the file loaded before, rewritten; a last line without its newline is left out. */
  private load({ text, inode }: TokenFileRead, inPlace: boolean): void {
    const unfinished = inPlace && !text.endsWith('\n') ? text.slice(text.lastIndexOf('\n') + 1) : '';
    if (unfinished.trim() !== '') this.options.log.warn({ file: this.options.file }, 'UPLOAD_TOKENS_FILE changed in place: its last line has no newline and is left out until it has one');
    const parsed = parseTokenFile(text.slice(0, text.length - unfinished.length));
    if (!parsed.ok) return this.keepOld(parsed.problem);
    this.current = new TokenSet([...this.options.listed, ...parsed.tokens]);
    this.loadedText = text;
    this.loadedInode = inode;
    this.lastSeen = null;
    this.reportedProblem = null;
    const fields = { file: this.options.file, tokens: this.current.size };
    if (parsed.tokens.length === 0) this.options.log.warn(fields, 'UPLOAD_TOKENS_FILE holds no token now');
    else this.options.log.info(fields, 'upload tokens reloaded');
  }

  /** One read at a time: the next is scheduled when the last has finished. */
  private schedulePoll(): void {
    this.timer = setTimeout(async () => {
      await this.check();
      if (this.timer !== null) this.schedulePoll();
    }, this.options.pollIntervalMs ?? POLL_INTERVAL_MS);
    this.timer.unref();
  }

  /** A failed reload keeps the tokens loaded before, and says so once per problem. */
  private keepOld(problem: string): void {
    if (problem === this.reportedProblem) return;
    this.reportedProblem = problem;
    this.options.log.warn({ file: this.options.file, problem, tokens: this.current.size }, 'UPLOAD_TOKENS_FILE not reloaded, keeping the tokens loaded before');
  }
}

/**
 * Only a regular file is read: opening a FIFO (or a device) waits for a writer, which would
 * hang the start, or stop the polling for good with one of libuv's four threads held.
 */
function checkFile(info: Stats): void {
  if (!info.isFile()) throw new Error('not a regular file');
  if (info.size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
}

/**
 * Opened without waiting for a writer (a FIFO would block the open), then checked and read
 * through the one descriptor: the inode and the text are of the same file, even if it is
 * replaced in between.
 */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

function readTokenFileSync(path: string): TokenFileRead {
  let fd: number | null = null;
  try {
    fd = openSync(path, OPEN_FLAGS);
    const info = fstatSync(fd);
    checkFile(info);
    return { text: readFileSync(fd, 'utf8'), inode: info.ino };
  } catch (error) {
    throw new Error(`UPLOAD_TOKENS_FILE ${path} cannot be read: ${(error as Error).message}`);
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

async function readTokenFile(path: string): Promise<TokenFileRead> {
  const file = await open(path, OPEN_FLAGS);
  try {
    const info = await file.stat();
    checkFile(info);
    return { text: await file.readFile('utf8'), inode: info.ino };
  } finally {
    await file.close();
  }
}
