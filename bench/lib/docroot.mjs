// Generates the files every server serves, in a fresh temp directory, so runs do
// not depend on the repo's resources/ and every server reads the same bytes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export const SMALL_PAGE = '/index.html';
export const BIG_FILE = '/big.png'; // .png: ours serves it (random bytes are fine, nothing checks the image)

// ~1.5 KiB of ordinary-looking HTML.
function smallPage() {
  const items = Array.from({ length: 24 }, (_, i) => `      <li><a href="/item-${i}.html">Item ${i}</a></li>`).join('\n');
  const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Benchmark page</title>
  </head>
  <body>
    <h1>Benchmark page</h1>
    <p>A small static page of about one and a half kibibytes, served by every server in the benchmark.</p>
    <ul>
${items}
    </ul>
  </body>
</html>
`;
  return html;
}

// ~1 KiB of valid JSON: the body of every POST /upload.
export function uploadBody() {
  const doc = {
    kind: 'benchmark-upload',
    items: Array.from({ length: 16 }, (_, i) => ({ id: i, name: `item-${i}`, score: i * 1.5 })),
  };
  const json = JSON.stringify(doc);
  return JSON.stringify({ ...doc, pad: 'x'.repeat(Math.max(0, 1024 - json.length - 10)) });
}

/**
 * Creates <tmp>/http-bench-XXXX/ with docroot/{index.html,big.png,uploads/},
 * upload-body.json and logs/. World-readable, because nginx workers run as
 * an unprivileged user when the harness runs as root.
 */
export function createWorkDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'http-bench-'));
  const docroot = path.join(dir, 'docroot');
  const uploads = path.join(docroot, 'uploads');
  const logs = path.join(dir, 'logs');
  for (const d of [docroot, uploads, logs]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(docroot, SMALL_PAGE.slice(1)), smallPage());
  fs.writeFileSync(path.join(docroot, BIG_FILE.slice(1)), randomBytes(1024 * 1024));
  const bodyFile = path.join(dir, 'upload-body.json');
  fs.writeFileSync(bodyFile, uploadBody());
  for (const d of [dir, docroot]) fs.chmodSync(d, 0o755);
  fs.chmodSync(uploads, 0o777); // any server user may write uploads
  return { dir, docroot, uploads, logs, bodyFile };
}

/** Counts the files written into the uploads folder (recursively, in case a server shards). */
export function countFiles(dir) {
  let n = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    n += entry.isDirectory() ? countFiles(path.join(dir, entry.name)) : 1;
  }
  return n;
}

/** Empties the uploads folder between runs so each run's count stands alone. */
export function emptyDir(dir) {
  for (const entry of fs.readdirSync(dir)) fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
}
