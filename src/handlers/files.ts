// Content classification and download headers, pure: which files are shown, which are
// downloaded, and how a file name is written into Content-Disposition (RFC 6266).
import mime from 'mime-types';
import type { HeaderList } from '../http/response.js';

export type Presentation =
  | { readonly kind: 'inline'; readonly contentType: string }
  | { readonly kind: 'download' }
  | { readonly kind: 'unsupported' };

export interface ContentPolicy {
  readonly inlineTypes: readonly string[];
  readonly downloadTypes: readonly string[];
}

export function classify(fileName: string, policy: ContentPolicy): Presentation {
  const type = mime.lookup(fileName);
  if (type === false) return { kind: 'unsupported' };
  if (policy.inlineTypes.includes(type)) return { kind: 'inline', contentType: mime.contentType(type) || type };
  if (policy.downloadTypes.includes(type)) return { kind: 'download' };
  return { kind: 'unsupported' };
}

const PLAIN_FILENAME = /^[\x20-\x7e]*$/;

/** `attachment; filename="NAME"`, plus `filename*` (UTF-8) when NAME is not plain ASCII. */
export function contentDisposition(fileName: string): string {
  const quoted = (name: string): string => name.replace(/[\\"]/g, (c) => `\\${c}`);
  if (PLAIN_FILENAME.test(fileName)) return `attachment; filename="${quoted(fileName)}"`;
  const fallback = fileName.replace(/[^\x20-\x7e]/g, '_');
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${quoted(fallback)}"; filename*=UTF-8''${encoded}`;
}

export function presentationHeaders(presentation: Exclude<Presentation, { kind: 'unsupported' }>, fileName: string): HeaderList {
  return presentation.kind === 'inline'
    ? [['Content-Type', presentation.contentType]]
    : [['Content-Type', 'application/octet-stream'], ['Content-Disposition', contentDisposition(fileName)]];
}
