// The pure rules behind validators, preconditions, ranges and precompressed variants:
// every branch of entityTag, parseHttpDate, decide, parseRange and acceptedEncodings.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { acceptedEncodings, decide, entityTag, parseHttpDate, parseRange } from '../../../src/handlers/conditional.js';
import type { ConditionalHeaders, FileFacts } from '../../../src/core/job.js';

// A file of 1000 bytes last modified at 2024-05-06 07:08:09.456 UTC.
const MTIME = Date.UTC(2024, 4, 6, 7, 8, 9, 456);
const FILE: FileFacts = { size: 1000, mtimeMs: MTIME, etag: entityTag(1000, MTIME), ino: 1, ctimeMs: MTIME };
const LAST_MODIFIED = new Date(MTIME).toUTCString(); // "Mon, 06 May 2024 07:08:09 GMT"
const EARLIER = new Date(MTIME - 1000).toUTCString();
const LATER = new Date(MTIME + 1000).toUTCString();
const OTHER_TAG = '"other"';

const full = { kind: 'full' } as const;
const notModified = { kind: 'not-modified' } as const;
const failed = { kind: 'precondition-failed' } as const;
const unsatisfiable = { kind: 'unsatisfiable' } as const;
const partial = (start: number, end: number) => ({ kind: 'partial', start, end }) as const;

const get = (headers: ConditionalHeaders, file: FileFacts = FILE) => decide(headers, file, true);

describe('entityTag', () => {
  test('is strong, quoted, and made of size and whole milliseconds in hex', () => {
    assert.equal(entityTag(1000, 1_715_000_000_123.9), '"3e8-18f4df73e7b"');
    assert.equal(entityTag(0, 0), '"0-0"');
  });

  test('a variant gets its own tag, so encoded and plain bodies never share one', () => {
    assert.equal(entityTag(1000, MTIME, 'br'), `"3e8-${MTIME.toString(16)}-br"`);
    const tags = new Set([entityTag(1000, MTIME), entityTag(1000, MTIME, 'br'), entityTag(1000, MTIME, 'gzip')]);
    assert.equal(tags.size, 3);
  });

  test('changes with the size and with the modification time', () => {
    assert.notEqual(entityTag(1000, MTIME), entityTag(1001, MTIME));
    assert.notEqual(entityTag(1000, MTIME), entityTag(1000, MTIME + 1));
  });
});

describe('parseHttpDate', () => {
  const expected = Date.UTC(1994, 10, 6, 8, 49, 37);

  test('reads the three HTTP-date forms, all in UTC', () => {
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), expected);
    assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT'), expected);
    assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), expected);
    assert.equal(parseHttpDate(' Sun, 06 Nov 1994 08:49:37 GMT '), expected);
  });

  test('a two-digit year more than 50 years ahead belongs to the past century', () => {
    const thisYear = new Date().getUTCFullYear();
    const ahead = (thisYear + 49) % 100;
    const tooFar = (thisYear + 51) % 100;
    const two = (year: number): string => String(year).padStart(2, '0');
    assert.equal(new Date(parseHttpDate(`Monday, 01-Jan-${two(ahead)} 00:00:00 GMT`)!).getUTCFullYear(), thisYear + 49);
    // The boundary: 1 January of the year 50 ahead is not more than 50 years ahead; of the year 51 ahead it is.
    assert.equal(new Date(parseHttpDate(`Monday, 01-Jan-${two((thisYear + 50) % 100)} 00:00:00 GMT`)!).getUTCFullYear(), thisYear + 50);
    assert.equal(new Date(parseHttpDate(`Monday, 01-Jan-${two(tooFar)} 00:00:00 GMT`)!).getUTCFullYear(), thisYear + 51 - 100);
    // Judged on the whole timestamp: late in the year 50 ahead is more than 50 years ahead.
    assert.equal(new Date(parseHttpDate(`Friday, 31-Dec-${two((thisYear + 50) % 100)} 23:59:59 GMT`)!).getUTCFullYear(), thisYear + 50 - 100);
  });

  test('a leap second (:60) is read as the second before it; :61 is no time', () => {
    assert.equal(parseHttpDate('Sat, 31 Dec 2016 23:59:60 GMT'), Date.UTC(2016, 11, 31, 23, 59, 59));
    assert.equal(parseHttpDate('Saturday, 31-Dec-16 23:59:60 GMT'), Date.UTC(2016, 11, 31, 23, 59, 59));
    assert.equal(parseHttpDate('Sat, 31 Dec 2016 23:59:61 GMT'), null);
  });

  test('a four-digit year below 100 is that year, not one of the 1900s (as Date.UTC would read it)', () => {
    const yearOf = (value: string): number => new Date(parseHttpDate(value)!).getUTCFullYear();
    assert.equal(yearOf('Thu, 01 Jan 0070 00:00:01 GMT'), 70);
    assert.equal(yearOf('Thu Jan  1 00:00:01 0070'), 70);
    assert.equal(new Date(parseHttpDate('Thu, 01 Jan 0070 00:00:01 GMT')!).toISOString(), '0070-01-01T00:00:01.000Z');
    // Year 0 is a leap year (divisible by 400); 1900 is not.
    assert.notEqual(parseHttpDate('Sat, 29 Feb 0000 00:00:00 GMT'), null);
  });

  test('anything else is not a date (Date.parse would accept most of it)', () => {
    for (const value of [
      undefined,
      '',
      '1',
      '2030',
      'garbage 5',
      '2024-05-06T07:08:09Z',
      'Sun, 06 Nov 1994 08:49:37 UTC',
      'Sun, 6 Nov 1994 08:49:37 GMT',
      'Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT',
      'Sun, 30 Feb 1994 08:49:37 GMT',
      'Sun, 06 Nov 1994 24:00:00 GMT',
      'Sun, 06 Nov 1994 08:60:00 GMT',
      'Sun, 06 Foo 1994 08:49:37 GMT',
    ]) {
      assert.equal(parseHttpDate(value), null, String(value));
    }
  });
});

describe('decide: no conditions', () => {
  test('GET and HEAD without headers get the full file', () => {
    assert.deepEqual(get({}), full);
    assert.deepEqual(decide({}, FILE, false), full);
  });
});

describe('decide: If-Match (strong comparison)', () => {
  test('the current tag, a list holding it, or * pass', () => {
    assert.deepEqual(get({ ifMatch: FILE.etag }), full);
    assert.deepEqual(get({ ifMatch: `${OTHER_TAG}, ${FILE.etag}` }), full);
    assert.deepEqual(get({ ifMatch: '*' }), full);
  });

  test('another tag, or the weak form of the current one, fail with 412', () => {
    assert.deepEqual(get({ ifMatch: OTHER_TAG }), failed);
    assert.deepEqual(get({ ifMatch: `W/${FILE.etag}` }), failed);
    assert.deepEqual(decide({ ifMatch: OTHER_TAG }, FILE, false), failed);
  });

  test('If-Match is evaluated before If-None-Match and Range', () => {
    assert.deepEqual(get({ ifMatch: OTHER_TAG, ifNoneMatch: FILE.etag, range: 'bytes=0-1' }), failed);
  });

  test('when If-Match is present, If-Unmodified-Since is ignored', () => {
    assert.deepEqual(get({ ifMatch: FILE.etag, ifUnmodifiedSince: EARLIER }), full);
  });
});

describe('decide: If-Unmodified-Since', () => {
  test('unchanged since the date (equal or later) passes', () => {
    assert.deepEqual(get({ ifUnmodifiedSince: LAST_MODIFIED }), full);
    assert.deepEqual(get({ ifUnmodifiedSince: LATER }), full);
  });

  test('changed after the date fails with 412', () => {
    assert.deepEqual(get({ ifUnmodifiedSince: EARLIER }), failed);
  });

  test('an invalid date is ignored', () => {
    assert.deepEqual(get({ ifUnmodifiedSince: 'yesterday' }), full);
    assert.deepEqual(get({ ifUnmodifiedSince: '1' }), full);
  });

  test('is evaluated before If-None-Match', () => {
    assert.deepEqual(get({ ifUnmodifiedSince: EARLIER, ifNoneMatch: FILE.etag }), failed);
  });
});

describe('decide: If-None-Match (weak comparison)', () => {
  test('the current tag gives 304 for GET and HEAD', () => {
    assert.deepEqual(get({ ifNoneMatch: FILE.etag }), notModified);
    assert.deepEqual(decide({ ifNoneMatch: FILE.etag }, FILE, false), notModified);
  });

  test('the weak form of the current tag also matches', () => {
    assert.deepEqual(get({ ifNoneMatch: `W/${FILE.etag}` }), notModified);
  });

  test('a list holding the tag, or *, matches', () => {
    assert.deepEqual(get({ ifNoneMatch: `${OTHER_TAG}, W/"x",${FILE.etag}` }), notModified);
    assert.deepEqual(get({ ifNoneMatch: '*' }), notModified);
  });

  test('other tags, an unquoted tag or an empty list send the file', () => {
    assert.deepEqual(get({ ifNoneMatch: OTHER_TAG }), full);
    assert.deepEqual(get({ ifNoneMatch: `W/${OTHER_TAG}` }), full);
    assert.deepEqual(get({ ifNoneMatch: FILE.etag.slice(1, -1) }), full);
    assert.deepEqual(get({ ifNoneMatch: '' }), full);
  });

  test('If-None-Match wins over If-Modified-Since both ways', () => {
    // A non-matching tag means "changed", whatever the date says.
    assert.deepEqual(get({ ifNoneMatch: OTHER_TAG, ifModifiedSince: LAST_MODIFIED }), full);
    // A matching tag means "unchanged", even with a date that says otherwise.
    assert.deepEqual(get({ ifNoneMatch: FILE.etag, ifModifiedSince: EARLIER }), notModified);
  });

  test('304 comes before the range', () => {
    assert.deepEqual(get({ ifNoneMatch: FILE.etag, range: 'bytes=0-9' }), notModified);
  });
});

describe('decide: If-Modified-Since', () => {
  test('the Last-Modified date itself gives 304', () => {
    assert.deepEqual(get({ ifModifiedSince: LAST_MODIFIED }), notModified);
    assert.deepEqual(decide({ ifModifiedSince: LAST_MODIFIED }, FILE, false), notModified);
  });

  test('a later date sends the file: it was replaced by an older version (tar x, cp -p, rsync -t)', () => {
    assert.deepEqual(get({ ifModifiedSince: LATER }), full);
    assert.deepEqual(get({ ifModifiedSince: 'Fri, 01 Jan 2100 00:00:00 GMT' }), full);
    assert.deepEqual(decide({ ifModifiedSince: LATER }, FILE, false), full);
  });

  test('compares whole seconds: the file time has milliseconds the header cannot carry', () => {
    assert.ok(MTIME % 1000 !== 0);
    assert.deepEqual(get({ ifModifiedSince: new Date(Math.floor(MTIME / 1000) * 1000).toUTCString() }), notModified);
  });

  test('modified after the date sends the file', () => {
    assert.deepEqual(get({ ifModifiedSince: EARLIER }), full);
  });

  test('an invalid date is ignored', () => {
    assert.deepEqual(get({ ifModifiedSince: 'not a date' }), full);
    assert.deepEqual(get({ ifModifiedSince: '2099' }), full);
  });
});

describe('decide: Range and If-Range', () => {
  test('a range applies to GET only; HEAD gets the full headers', () => {
    assert.deepEqual(get({ range: 'bytes=0-9' }), partial(0, 9));
    assert.deepEqual(decide({ range: 'bytes=0-9' }, FILE, false), full);
  });

  test('If-Range with the current strong tag keeps the range', () => {
    assert.deepEqual(get({ range: 'bytes=10-19', ifRange: FILE.etag }), partial(10, 19));
    assert.deepEqual(get({ range: 'bytes=10-19', ifRange: ` ${FILE.etag} ` }), partial(10, 19));
  });

  test('If-Range with a stale or weak tag sends the whole file', () => {
    assert.deepEqual(get({ range: 'bytes=10-19', ifRange: OTHER_TAG }), full);
    assert.deepEqual(get({ range: 'bytes=10-19', ifRange: `W/${FILE.etag}` }), full);
  });

  test('If-Range with the exact Last-Modified date keeps the range', () => {
    assert.deepEqual(get({ range: 'bytes=10-19', ifRange: LAST_MODIFIED }), partial(10, 19));
  });

  test('If-Range with another date, or with no valid validator, sends the whole file', () => {
    assert.deepEqual(get({ range: 'bytes=10-19', ifRange: EARLIER }), full);
    assert.deepEqual(get({ range: 'bytes=10-19', ifRange: LATER }), full);
    assert.deepEqual(get({ range: 'bytes=10-19', ifRange: 'junk' }), full);
  });

  test('If-Range without Range is ignored', () => {
    assert.deepEqual(get({ ifRange: OTHER_TAG }), full);
  });

  test('an unsatisfiable range is reported after the preconditions pass', () => {
    assert.deepEqual(get({ range: 'bytes=1000-', ifMatch: FILE.etag }), unsatisfiable);
  });

  test('If-Range with a stale validator turns an unsatisfiable range into the full file', () => {
    assert.deepEqual(get({ range: 'bytes=5000-', ifRange: OTHER_TAG }), full);
  });
});

describe('parseRange', () => {
  test('a-b gives exactly those bytes; b past the end is cut to the last byte', () => {
    assert.deepEqual(parseRange('bytes=0-0', 1000), partial(0, 0));
    assert.deepEqual(parseRange('bytes=100-199', 1000), partial(100, 199));
    assert.deepEqual(parseRange('bytes=999-999', 1000), partial(999, 999));
    assert.deepEqual(parseRange('bytes=500-5000', 1000), partial(500, 999));
  });

  test('a- runs to the end of the file', () => {
    assert.deepEqual(parseRange('bytes=0-', 1000), partial(0, 999));
    assert.deepEqual(parseRange('bytes=999-', 1000), partial(999, 999));
  });

  test('-n gives the last n bytes; a suffix larger than the file gives all of it', () => {
    assert.deepEqual(parseRange('bytes=-1', 1000), partial(999, 999));
    assert.deepEqual(parseRange('bytes=-100', 1000), partial(900, 999));
    assert.deepEqual(parseRange('bytes=-1000', 1000), partial(0, 999));
    assert.deepEqual(parseRange('bytes=-5000', 1000), partial(0, 999));
  });

  test('a first byte at or past the end, or a zero suffix, is unsatisfiable', () => {
    assert.deepEqual(parseRange('bytes=1000-', 1000), unsatisfiable);
    assert.deepEqual(parseRange('bytes=1000-2000', 1000), unsatisfiable);
    assert.deepEqual(parseRange(`bytes=${'9'.repeat(400)}-`, 1000), unsatisfiable);
    assert.deepEqual(parseRange('bytes=-0', 1000), unsatisfiable);
  });

  test('a zero-length file: positions are unsatisfiable, a suffix gets the (empty) whole file', () => {
    assert.deepEqual(parseRange('bytes=0-', 0), unsatisfiable);
    assert.deepEqual(parseRange('bytes=0-0', 0), unsatisfiable);
    assert.deepEqual(parseRange('bytes=-0', 0), unsatisfiable);
    // RFC 9110 §14.1.2: a non-zero suffix is satisfiable, but 206 cannot name zero bytes.
    assert.deepEqual(parseRange('bytes=-10', 0), full);
    assert.deepEqual(get({ range: 'bytes=-10' }, { size: 0, mtimeMs: MTIME, etag: entityTag(0, MTIME), ino: 1, ctimeMs: MTIME }), full);
  });

  test('last before first (bytes=5-3) is invalid, so the header is ignored', () => {
    assert.deepEqual(parseRange('bytes=5-3', 1000), full);
    // Even when the first byte is past the end: an invalid range is not an unsatisfiable one.
    assert.deepEqual(parseRange('bytes=5000-3', 1000), full);
  });

  test('positions past 2^53 are compared as written, not as rounded numbers', () => {
    const [max, above, further] = ['9007199254740991', '9007199254740992', '9007199254740993'];
    // As numbers, both ends round to 2^53: the last byte would not seem before the first.
    assert.deepEqual(parseRange(`bytes=${further}-${above}`, 1000), full);
    assert.deepEqual(parseRange(`bytes=${'9'.repeat(30)}-${'9'.repeat(29)}8`, 1000), full);
    assert.deepEqual(parseRange(`bytes=${above}-${further}`, 1000), unsatisfiable);
    assert.deepEqual(parseRange(`bytes=${further}-`, 1000), unsatisfiable);
    assert.deepEqual(parseRange(`bytes=${max}-${max}`, 1000), unsatisfiable);
    // A last byte that far is the end of the file; so is a suffix that long.
    assert.deepEqual(parseRange(`bytes=10-${further}`, 1000), partial(10, 999));
    assert.deepEqual(parseRange(`bytes=10-${'9'.repeat(400)}`, 1000), partial(10, 999));
    assert.deepEqual(parseRange(`bytes=-${further}`, 1000), partial(0, 999));
  });

  test('leading zeros do not change a position', () => {
    assert.deepEqual(parseRange('bytes=0009-10', 1000), partial(9, 10));
    assert.deepEqual(parseRange('bytes=5-0005', 1000), partial(5, 5));
    assert.deepEqual(parseRange('bytes=10-0009', 1000), full);
    assert.deepEqual(parseRange('bytes=000-0', 1000), partial(0, 0));
  });

  test('several ranges are answered with the whole file (no multipart/byteranges)', () => {
    assert.deepEqual(parseRange('bytes=0-1,5-6', 1000), full);
    assert.deepEqual(parseRange('bytes=0-1, -5', 1000), full);
    assert.deepEqual(parseRange('bytes=2000-3000,4000-5000', 1000), full);
  });

  test('the unit is case-insensitive', () => {
    assert.deepEqual(parseRange('Bytes=1-2', 1000), partial(1, 2));
    assert.deepEqual(parseRange('BYTES=1-2', 1000), partial(1, 2));
  });

  test('whitespace only beside list commas: inside the unit, around "=" or inside a range it makes the header invalid', () => {
    // Stripped of its spaces, `bytes=1 0-2 0` would read as bytes 10-20.
    for (const value of ['bytes=1 0-2 0', 'b ytes=3-4', 'bytes =0-1', 'bytes= 0-1', 'bytes=\t0-1', 'bytes=0 -1', 'bytes=0- 1', 'bytes=- 5', 'bytes = 1 - 2']) {
      assert.deepEqual(parseRange(value, 1000), full, value);
    }
    assert.deepEqual(parseRange('bytes=0-1 , 5-6', 1000), full, 'several ranges, spaced');
  });

  test('empty list elements are skipped (RFC 9110 §5.6.1.2): one range left is a range', () => {
    for (const value of ['bytes=3-4,', 'bytes=,3-4', 'bytes=, 3-4', 'bytes= ,3-4', 'bytes=3-4 ,', 'bytes=3-4,\t', 'bytes=,,3-4,,']) {
      assert.deepEqual(parseRange(value, 1000), partial(3, 4), value);
    }
    assert.deepEqual(parseRange('bytes=,', 1000), full, 'no range at all');
    assert.deepEqual(parseRange('bytes=0-1,,5-6', 1000), full, 'still two ranges');
  });

  test('anything unparsable is ignored', () => {
    for (const value of ['', 'bytes', 'bytes=', 'bytes=-', 'bytes=a-b', 'bytes=1-2-3', 'bytes=+1-2', 'bytes=1.5-2', 'items=0-1', 'bytes 0-1', 'bytes=0x10-', 'xbytes=0-1', 'bytes=0-1x']) {
      assert.deepEqual(parseRange(value, 1000), full, value);
    }
  });
});

describe('acceptedEncodings', () => {
  test('no header, an empty one or identity only: nothing precompressed', () => {
    assert.deepEqual(acceptedEncodings(undefined), []);
    assert.deepEqual(acceptedEncodings(''), []);
    assert.deepEqual(acceptedEncodings('identity'), []);
    assert.deepEqual(acceptedEncodings('deflate, compress'), []);
  });

  test('listed encodings, br first when weights are equal', () => {
    assert.deepEqual(acceptedEncodings('gzip'), ['gzip']);
    assert.deepEqual(acceptedEncodings('br'), ['br']);
    assert.deepEqual(acceptedEncodings('gzip, deflate, br'), ['br', 'gzip']);
    assert.deepEqual(acceptedEncodings('GZIP, BR'), ['br', 'gzip']);
  });

  test('x-gzip is gzip (RFC 9110 §8.4.1.3)', () => {
    assert.deepEqual(acceptedEncodings('x-gzip'), ['gzip']);
    assert.deepEqual(acceptedEncodings('X-GZIP;q=0.5, br'), ['br', 'gzip']);
    assert.deepEqual(acceptedEncodings('x-gzip;q=0'), []);
  });

  test('q-values order the choice', () => {
    assert.deepEqual(acceptedEncodings('br;q=0.5, gzip;q=0.8'), ['gzip', 'br']);
    assert.deepEqual(acceptedEncodings('br;q=1.0, gzip;q=0.999'), ['br', 'gzip']);
    assert.deepEqual(acceptedEncodings('br;q=1, gzip'), ['br', 'gzip']);
    assert.deepEqual(acceptedEncodings('gzip;q=1, br;q=0.9'), ['gzip', 'br']);
    assert.deepEqual(acceptedEncodings('gzip;Q=0.1, br;q=0.2'), ['br', 'gzip']);
  });

  test('q=0 means not acceptable, whatever the spacing', () => {
    assert.deepEqual(acceptedEncodings('br;q=0, gzip'), ['gzip']);
    assert.deepEqual(acceptedEncodings('br ; q=0 , gzip'), ['gzip']);
    assert.deepEqual(acceptedEncodings('gzip;q=0.000, br;q=0'), []);
    assert.deepEqual(acceptedEncodings('br;level=5;q=0, gzip'), ['gzip']);
  });

  test('an unreadable q-value counts as not acceptable', () => {
    assert.deepEqual(acceptedEncodings('br;q=high, gzip'), ['gzip']);
    // Outside the qvalue grammar (RFC 9110 §12.4.2), though JavaScript would read a number.
    for (const q of ['1.0001', '0x1', '1e0', '1.5', '-0', '.5', '0.1234']) assert.deepEqual(acceptedEncodings(`br;q=${q}, gzip;q=0.001`), ['gzip'], q);
    assert.deepEqual(acceptedEncodings('br;q=0.5, gzip;q=1.000'), ['gzip', 'br']);
  });

  test('* stands for every encoding not named', () => {
    assert.deepEqual(acceptedEncodings('*'), ['br', 'gzip']);
    assert.deepEqual(acceptedEncodings('br;q=0, *'), ['gzip']);
    assert.deepEqual(acceptedEncodings('gzip, *;q=0'), ['gzip']);
    assert.deepEqual(acceptedEncodings('*;q=0'), []);
    assert.deepEqual(acceptedEncodings('*;q=0.5, gzip;q=0.9'), ['gzip', 'br']);
  });
});
