// UPLOAD_TOKENS and UPLOAD_TOKENS_FILE with a real file that changes: edited in place,
// swapped the way Kubernetes updates a mounted Secret, broken, removed and mended.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { pino, type Logger } from 'pino';
import { parseTokenFile, UploadTokens } from '../../../src/http/upload-tokens.js';

const POLL_MS = 20;

interface LogEntry {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** A pino logger whose lines are kept, parsed, in `entries`. */
function recorder(): { log: Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      entries.push(JSON.parse(chunk.toString()) as LogEntry);
      done();
    },
  });
  return { log: pino(sink), entries };
}

const WARN = 40;

async function until(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// Long enough to be accepted (tokens shorter than 16 characters are refused).
const ALPHA = 'alpha-Zr4Q9x2mLk';
const BETA = 'beta-Hq7Vw3Ns8Pt2Zk';
const GAMMA = 'gamma-Ty6Jd1Rf5Xc';
const LISTED = 'listed-Mb8Ck2Wq9Ej';
/** A token cut short, long enough that its length alone would not refuse it. */
const CUT = 'Z9x-LongRandomPrefix';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('parseTokenFile', () => {
  test('one token per line; blank lines, comments, CRLF and a BOM are fine', () => {
    assert.deepEqual(parseTokenFile(`\uFEFF# uploaders\r\n${ALPHA}\r\n\r\n  beta+/long-enough=  \n#gamma\n`), { ok: true, tokens: [ALPHA, 'beta+/long-enough='] });
    assert.deepEqual(parseTokenFile(''), { ok: true, tokens: [] });
  });

  test('a line that is not a token is refused by number, never by content', () => {
    const parsed = parseTokenFile(`${ALPHA}\nsecret with spaces\n`);
    assert.deepEqual(parsed.ok, false);
    assert.match(parsed.ok ? '' : parsed.problem, /^line 2 is not a bearer token/);
    assert.ok(!(parsed.ok ? '' : parsed.problem).includes('secret'));
  });

  test('a line too short to be a random token is refused by number, never by content', () => {
    const parsed = parseTokenFile(`${ALPHA}\n# next\nchangeme\n`);
    assert.match(parsed.ok ? '' : parsed.problem, /^line 3 is shorter than 16 characters/);
    assert.ok(!(parsed.ok ? '' : parsed.problem).includes('changeme'));
    assert.deepEqual(parseTokenFile('x'.repeat(16)), { ok: true, tokens: ['x'.repeat(16)] });
  });
});

describe('UploadTokens', () => {
  let dir: string;
  let open: UploadTokens | null = null;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rawhttp-tokens-'));
  });
  afterEach(() => {
    open?.close();
    open = null;
    rmSync(dir, { recursive: true, force: true });
  });

  function start(listed: string[], file: string, log = recorder().log): UploadTokens | null {
    open = UploadTokens.start({ listed, file, log, pollIntervalMs: POLL_MS });
    return open;
  }

  test('nothing configured: null, uploads stay open', () => {
    assert.equal(start([], ''), null);
  });

  test('UPLOAD_TOKENS alone', () => {
    const tokens = start([ALPHA, BETA], '')!;
    assert.ok(tokens.tokens.has(ALPHA) && tokens.tokens.has(BETA) && !tokens.tokens.has(GAMMA));
  });

  test('the file is read at start and again when edited; listed tokens stay', async () => {
    const file = join(dir, 'tokens');
    writeFileSync(file, `${ALPHA}\n`);
    const { log, entries } = recorder();
    const tokens = start([LISTED], file, log)!;
    assert.ok(tokens.tokens.has(ALPHA) && tokens.tokens.has(LISTED));
    writeFileSync(file, `# rotated\n${BETA}\n`);
    await until(() => tokens.tokens.has(BETA), 'the edited file');
    assert.ok(!tokens.tokens.has(ALPHA) && tokens.tokens.has(LISTED));
    assert.deepEqual(entries.map((entry) => entry.msg), ['upload tokens reloaded']);
    assert.equal(entries[0]!.file, file);
    assert.equal(entries[0]!.tokens, 2);
  });

  test('a Kubernetes Secret update: the ..data link swapped atomically to a new folder', async () => {
    // The kubelet's layout: tokens -> ..data/tokens, ..data -> ..<timestamp>/
    mkdirSync(join(dir, '..2026_01_01_00_00_00.1'));
    writeFileSync(join(dir, '..2026_01_01_00_00_00.1', 'tokens'), `${ALPHA}\n`);
    symlinkSync('..2026_01_01_00_00_00.1', join(dir, '..data'));
    symlinkSync('..data/tokens', join(dir, 'tokens'));
    const tokens = start([], join(dir, 'tokens'))!;
    assert.ok(tokens.tokens.has(ALPHA));

    mkdirSync(join(dir, '..2026_01_01_00_01_00.2'));
    writeFileSync(join(dir, '..2026_01_01_00_01_00.2', 'tokens'), `${BETA}\n`);
    symlinkSync('..2026_01_01_00_01_00.2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    rmSync(join(dir, '..2026_01_01_00_00_00.1'), { recursive: true });
    await until(() => tokens.tokens.has(BETA), 'the swapped Secret');
    assert.ok(!tokens.tokens.has(ALPHA));
  });

  test('a failed reload keeps the old tokens and is logged once, without the file’s content', async () => {
    const file = join(dir, 'tokens');
    writeFileSync(file, `${ALPHA}\n`);
    const { log, entries } = recorder();
    const tokens = start([], file, log)!;
    writeFileSync(file, `${ALPHA}\nnot a token secretword\n`);
    await until(() => entries.length === 1, 'the warning');
    await sleep(POLL_MS * 5);
    assert.equal(entries.length, 1, 'logged once');
    assert.equal(entries[0]!.level, WARN);
    assert.match(String(entries[0]!.problem), /line 2/);
    assert.ok(!JSON.stringify(entries).includes('secretword') && !JSON.stringify(entries).includes(ALPHA));
    assert.ok(tokens.tokens.has(ALPHA));

    unlinkSync(file);
    await until(() => entries.length === 2, 'the warning about the missing file');
    await sleep(POLL_MS * 5);
    assert.equal(entries.length, 2);
    assert.match(String(entries[1]!.problem), /cannot be read: ENOENT/);
    assert.ok(tokens.tokens.has(ALPHA));

    writeFileSync(file, `${GAMMA}\n`);
    await until(() => tokens.tokens.has(GAMMA), 'the mended file');
    assert.ok(!tokens.tokens.has(ALPHA));
    assert.equal(entries.at(-1)!.msg, 'upload tokens reloaded');
  });

  test('a problem that comes back after a recovery to the same tokens is logged again', async () => {
    const file = join(dir, 'tokens');
    writeFileSync(file, `${ALPHA}\n`);
    const { log, entries } = recorder();
    const tokens = start([], file, log)!;
    for (let outage = 1; outage <= 2; outage++) {
      unlinkSync(file);
      await until(() => entries.length === outage, `the warning of outage ${outage}`);
      assert.match(String(entries.at(-1)!.problem), /ENOENT/);
      writeFileSync(file, `${ALPHA}\n`);
      await sleep(POLL_MS * 5);
    }
    assert.ok(tokens.tokens.has(ALPHA));
  });

  test('a FIFO in place of the file is refused at once, at start and on reload, without waiting for a writer', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    assert.throws(() => start([], fifo), /not a regular file/);
    const file = join(dir, 'tokens');
    writeFileSync(file, `${ALPHA}\n`);
    const { log, entries } = recorder();
    const tokens = start([], file, log)!;
    unlinkSync(file);
    renameSync(fifo, file);
    await until(() => entries.length === 1, 'the warning');
    assert.match(String(entries[0]!.problem), /not a regular file/);
    // The polling goes on: a real file again is loaded.
    unlinkSync(file);
    writeFileSync(file, `${BETA}\n`);
    await until(() => tokens.tokens.has(BETA), 'the file after the FIFO');
  });

  test('a file emptied on purpose takes effect: nobody may upload', async () => {
    const file = join(dir, 'tokens');
    writeFileSync(file, `${ALPHA}\n`);
    const { log, entries } = recorder();
    const tokens = start([], file, log)!;
    writeFileSync(file, '# all revoked\n');
    await until(() => tokens.tokens.size === 0, 'the emptied file');
    assert.ok(!tokens.tokens.has(ALPHA));
    assert.equal(entries.at(-1)!.level, WARN);
  });

  test('a file that cannot be read or parsed at start fails the start, naming it', () => {
    assert.throws(() => start([], join(dir, 'missing')), /UPLOAD_TOKENS_FILE .*missing cannot be read: ENOENT/);
    const bad = join(dir, 'bad');
    writeFileSync(bad, `${ALPHA}\nbad token\n`);
    assert.throws(() => start([], bad), (error: Error) => /UPLOAD_TOKENS_FILE .*bad: line 2 is not a bearer token/.test(error.message) && !error.message.includes('bad token'));
    const huge = join(dir, 'huge');
    writeFileSync(huge, 'a'.repeat(70_000));
    assert.throws(() => start([], huge), /larger than 65536 bytes/);
  });

  test('a file of exactly 65536 bytes is read; one byte more is refused', () => {
    const file = join(dir, 'tokens');
    /** A token and a comment line padded to `size` bytes in all. */
    const padded = (size: number): string => `${ALPHA}\n#${'x'.repeat(size - ALPHA.length - 3)}\n`;
    writeFileSync(file, padded(65_536));
    assert.ok(start([], file)!.tokens.has(ALPHA));
    writeFileSync(file, padded(65_537));
    assert.throws(() => start([], file), /larger than 65536 bytes/);
  });

  test('a change is used only when two reads in a row agree: a half-written file never is', async () => {
    const file = join(dir, 'tokens');
    writeFileSync(file, `${ALPHA}\n`);
    // No timer in the way: each check() is one read.
    open = UploadTokens.start({ listed: [], file, log: recorder().log, pollIntervalMs: 3_600_000 });
    const tokens = open!;
    for (const partial of ['', BETA.slice(0, -2)]) {
      writeFileSync(file, partial);
      await tokens.check();
      assert.ok(tokens.tokens.has(ALPHA) && !tokens.tokens.has(BETA.slice(0, -2)), JSON.stringify(partial));
    }
    writeFileSync(file, `${BETA}\n`);
    await tokens.check();
    assert.ok(tokens.tokens.has(ALPHA), 'one read is not enough');
    await tokens.check();
    assert.ok(tokens.tokens.has(BETA) && !tokens.tokens.has(ALPHA));
  });

  test('of a file changed in place only the lines that end are read: a writer that stalls mid-token never opens uploads to a prefix, and a revocation still applies', async () => {
    const file = join(dir, 'tokens');
    writeFileSync(file, `${ALPHA}\n`);
    open = UploadTokens.start({ listed: [], file, log: recorder().log, pollIntervalMs: 3_600_000 });
    const tokens = open!;
    // The same file (inode), rewritten in place and left with its second token cut short.
    writeFileSync(file, `${ALPHA}\n${CUT}`);
    for (let i = 0; i < 3; i++) await tokens.check();
    assert.ok(tokens.tokens.has(ALPHA) && !tokens.tokens.has(CUT), 'a settled file with an unfinished last line is not used');
    appendFileSync(file, 'Rest\n');
    for (let i = 0; i < 2; i++) await tokens.check();
    assert.ok(tokens.tokens.has(`${CUT}Rest`) && !tokens.tokens.has(CUT));
    // A file put in place whole (renamed over it, as a Secret is) needs no newline at its end.
    writeFileSync(join(dir, 'next'), BETA);
    renameSync(join(dir, 'next'), file);
    for (let i = 0; i < 2; i++) await tokens.check();
    assert.ok(tokens.tokens.has(BETA) && !tokens.tokens.has(ALPHA));
    // Rewritten in place without a final newline: beta is revoked at once, gamma waits for its newline.
    writeFileSync(file, GAMMA);
    for (let i = 0; i < 2; i++) await tokens.check();
    assert.ok(!tokens.tokens.has(BETA) && !tokens.tokens.has(GAMMA));
    appendFileSync(file, '\n');
    for (let i = 0; i < 2; i++) await tokens.check();
    assert.ok(tokens.tokens.has(GAMMA));
    // Replaced by a file of the same text, then that file edited in place: still an edit in place.
    writeFileSync(join(dir, 'next'), `${GAMMA}\n`);
    renameSync(join(dir, 'next'), file);
    await tokens.check();
    writeFileSync(file, `${GAMMA}\n${CUT}`);
    for (let i = 0; i < 3; i++) await tokens.check();
    assert.ok(tokens.tokens.has(GAMMA) && !tokens.tokens.has(CUT));
  });

  test('close stops the polling', async () => {
    const file = join(dir, 'tokens');
    writeFileSync(file, `${ALPHA}\n`);
    const tokens = start([], file)!;
    tokens.close();
    writeFileSync(file, `${BETA}\n`);
    await sleep(POLL_MS * 5);
    assert.ok(tokens.tokens.has(ALPHA) && !tokens.tokens.has(BETA));
  });
});
