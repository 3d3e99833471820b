import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { contentTable, type ContentPolicy } from '../../../src/handlers/content-types.js';
import { classify, contentDisposition, presentationHeaders } from '../../../src/handlers/files.js';

const POLICY = contentTable({ inlineTypes: ['text/html'], downloadTypes: ['text/plain', 'image/png', 'image/jpeg', 'application/json'] });

describe('content classification', () => {
  test('HTML is shown inline as UTF-8', () => {
    for (const name of ['index.html', 'page.htm', 'UPPER.HTML', 'dir.d/x.html']) {
      assert.deepEqual(classify(name, POLICY), { kind: 'inline', contentType: 'text/html; charset=utf-8' }, name);
    }
  });

  test('text, images and JSON are downloads', () => {
    for (const name of ['sample.txt', 'logo.png', 'photo.jpg', 'photo.jpeg', 'PHOTO.JPG', 'upload_1.json']) {
      assert.deepEqual(classify(name, POLICY), { kind: 'download' }, name);
    }
  });

  test("mime-types' other extensions of these types are served alike, but not those of a server's own files", () => {
    for (const name of ['notes.text', 'photo.jpe', 'app.js.map']) assert.deepEqual(classify(name, POLICY), { kind: 'download' }, name);
    assert.deepEqual(classify('page.shtml', POLICY), { kind: 'inline', contentType: 'text/html; charset=utf-8' });
    for (const name of ['app.conf', 'server.log', 'setup.ini', 'a.def', 'a.in', 'a.list']) assert.deepEqual(classify(name, POLICY), { kind: 'unsupported' }, name);
  });

  test('any other type, or none, is unsupported', () => {
    for (const name of ['script.js', 'style.css', 'anim.gif', 'doc.pdf', 'program.exe', 'README', 'archive.tar.gz', 'file.unknownext', 'svg.svg']) {
      assert.deepEqual(classify(name, POLICY), { kind: 'unsupported' }, name);
    }
  });

  test('the lists are configurable', () => {
    const policy = contentTable({ inlineTypes: ['text/plain'], downloadTypes: ['text/css'] } satisfies ContentPolicy);
    assert.deepEqual(classify('a.txt', policy), { kind: 'inline', contentType: 'text/plain; charset=utf-8' });
    assert.deepEqual(classify('a.css', policy), { kind: 'download' });
    assert.deepEqual(classify('a.html', policy), { kind: 'unsupported' });
  });

  test('a media type with no known extension is a configuration error', () => {
    assert.throws(() => contentTable({ inlineTypes: ['text/htlm'], downloadTypes: [] }), /INLINE_TYPES: .*"text\/htlm"/);
    assert.throws(() => contentTable({ inlineTypes: [], downloadTypes: ['image/pgn'] }), /DOWNLOAD_TYPES: .*"image\/pgn"/);
  });

  test('an extension claimed by both lists is a configuration error, whichever type claims it', () => {
    assert.throws(() => contentTable({ inlineTypes: ['text/html', 'text/plain'], downloadTypes: ['text/plain'] }), /INLINE_TYPES: "text\/plain" and DOWNLOAD_TYPES: "text\/plain" both claim \.txt/);
    // Two types, one extension: mime-types gives .xml to both.
    assert.throws(() => contentTable({ inlineTypes: ['text/xml'], downloadTypes: ['application/xml'] }), /both claim \.xml/);
  });

  test('names that look like object keys are not types', () => {
    for (const name of ['x.constructor', 'x.__proto__', 'x.toString']) assert.deepEqual(classify(name, POLICY), { kind: 'unsupported' }, name);
  });
});

describe('Content-Disposition', () => {
  test('a plain ASCII name is quoted', () => {
    assert.equal(contentDisposition('sample.txt'), 'attachment; filename="sample.txt"');
    assert.equal(contentDisposition("it's (1)*.txt"), 'attachment; filename="it\'s (1)*.txt"');
  });

  test('a name holding a quote or a backslash is given in filename*, with `_` for them in the fallback', () => {
    assert.equal(contentDisposition('we"ird\\name.txt'), "attachment; filename=\"we_ird_name.txt\"; filename*=UTF-8''we%22ird%5Cname.txt");
    assert.equal(contentDisposition('q"uote.txt'), "attachment; filename=\"q_uote.txt\"; filename*=UTF-8''q%22uote.txt");
  });

  test('a name that is not plain ASCII gets an ASCII fallback and an RFC 6266 filename*', () => {
    assert.equal(contentDisposition('café.txt'), "attachment; filename=\"cafe.txt\"; filename*=UTF-8''caf%C3%A9.txt");
    // Decomposed accents go; letters with none (ø) and other scripts become `_`.
    assert.equal(contentDisposition('ünïcødé.png'), "attachment; filename=\"unic_de.png\"; filename*=UTF-8''%C3%BCn%C3%AFc%C3%B8d%C3%A9.png");
    assert.equal(contentDisposition("é's (1)*.png"), "attachment; filename=\"e's (1)*.png\"; filename*=UTF-8''%C3%A9%27s%20%281%29%2A.png");
    assert.equal(contentDisposition('日本.jpg'), "attachment; filename=\"__.jpg\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.jpg");
  });

  test('each code point the fallback cannot hold is one `_`, a character outside the BMP too', () => {
    assert.equal(contentDisposition('🎉 party.txt'), "attachment; filename=\"_ party.txt\"; filename*=UTF-8''%F0%9F%8E%89%20party.txt");
    assert.equal(contentDisposition('𝄞é.png'), "attachment; filename=\"_e.png\"; filename*=UTF-8''%F0%9D%84%9E%C3%A9.png");
    // A letter whose Unicode case folding is ASCII (long s folds to `s`) is still not ASCII.
    assert.equal(contentDisposition('\u017f.txt'), "attachment; filename=\"_.txt\"; filename*=UTF-8''%C5%BF.txt");
  });

  test('a name holding a percent escape is given in filename* too, so no browser decodes it', () => {
    assert.equal(contentDisposition('100%41.txt'), "attachment; filename=\"100_41.txt\"; filename*=UTF-8''100%2541.txt");
    assert.equal(contentDisposition('caf%C3%A9.txt'), "attachment; filename=\"caf_C3_A9.txt\"; filename*=UTF-8''caf%25C3%25A9.txt");
    assert.equal(contentDisposition('100% sure.txt'), 'attachment; filename="100% sure.txt"', 'a % not followed by two hex digits is no escape');
  });

  test('control characters never reach the header', () => {
    const value = contentDisposition('a\r\nSet-Cookie: x.txt');
    assert.doesNotMatch(value, /[\x00-\x1f\x7f]/);
    assert.match(value, /filename\*=UTF-8''a%0D%0ASet-Cookie%3A%20x\.txt$/);
  });

  test('presentation headers', () => {
    assert.deepEqual(presentationHeaders({ kind: 'inline', contentType: 'text/html; charset=utf-8' }, 'index.html'), [['Content-Type', 'text/html; charset=utf-8']]);
    assert.deepEqual(presentationHeaders({ kind: 'download' }, 'logo.png'), [
      ['Content-Type', 'application/octet-stream'],
      ['Content-Disposition', 'attachment; filename="logo.png"'],
    ]);
  });
});
