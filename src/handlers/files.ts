// Content classification and download headers, pure: which files are shown, which are
// downloaded, and how a file name is written into Content-Disposition (RFC 6266).
import { extname } from 'node:path';
import type { HeaderList } from '../core/response.js';

export type Presentation =
  | { readonly kind: 'inline'; readonly contentType: string }
  | { readonly kind: 'download' }
  | { readonly kind: 'unsupported' };

/**
 * Lowercased file extensions (no dot) to how they are presented; an extension not listed is
 * refused with 415. Built once from the configured media types (content-types.ts).
 */
export type ContentTable = Readonly<Record<string, Exclude<Presentation, { kind: 'unsupported' }>>>;

const UNSUPPORTED: Presentation = { kind: 'unsupported' };

export function classify(fileName: string, table: ContentTable): Presentation {
  const extension = extname(fileName).slice(1).toLowerCase();
  return Object.hasOwn(table, extension) ? table[extension]! : UNSUPPORTED;
}

// Visible ASCII but `"` and `\`: a quoted-string may escape them, but RFC 6266 (appendix D)
// advises against it, and clients that read only `filename` (curl -OJ, wget
// --content-disposition) save such names wrongly.
const PLAIN_FILENAME = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
// Some browsers percent-decode `filename`, others do not (RFC 6266, appendix D), so a name
// holding `%XX` is given unambiguously in `filename*` as well.
const PERCENT_ESCAPE = /%[0-9a-f]{2}/i;
// What the ASCII fallback cannot hold, one code point at a time (`u`): an emoji is one `_`, not two.
// No `i` flag: with `u` it folds case by Unicode, so a long s (`ſ`) would count as the ASCII
// letter `s` and be left in.
const NOT_IN_FALLBACK = /[^\x20\x21\x23-\x5b\x5d-\x7e]|%(?=[0-9A-Fa-f]{2})/gu;

/**
 * `attachment; filename="NAME"`, plus `filename*` (UTF-8) when NAME is not plain ASCII, holds
 * a quote or a backslash, or holds something a browser could read as a percent escape.
 */
export function contentDisposition(fileName: string): string {
  if (PLAIN_FILENAME.test(fileName) && !PERCENT_ESCAPE.test(fileName)) return `attachment; filename="${fileName}"`;
  // Accents dropped rather than the whole letter (`café` as `cafe`), for clients that read only `filename`.
  const fallback = fileName.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(NOT_IN_FALLBACK, '_');
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

export function presentationHeaders(presentation: Exclude<Presentation, { kind: 'unsupported' }>, fileName: string): HeaderList {
  return presentation.kind === 'inline'
    ? [['Content-Type', presentation.contentType]]
    : [['Content-Type', 'application/octet-stream'], ['Content-Disposition', contentDisposition(fileName)]];
}
