// Builds the extension table the workers classify files with, from the configured media
// types and mime-types' database. Done once on the main thread, so the workers never load
// the database (memory each worker would hold for nothing).
import mime from 'mime-types';
import type { ContentTable } from './files.js';

export interface ContentPolicy {
  readonly inlineTypes: readonly string[];
  readonly downloadTypes: readonly string[];
}

/**
 * Extensions mime-types gives text/plain that usually name a server's own files: a
 * configuration or a log left in the document root must not be served for being plain text.
 */
const SERVER_FILE_EXTENSIONS: ReadonlySet<string> = new Set(['conf', 'def', 'in', 'ini', 'list', 'log']);

/**
 * Throws for a media type mime-types knows no extension of (a typo in the configuration), and
 * for an extension both lists claim.
 */
export function contentTable(policy: ContentPolicy): ContentTable {
  const table: Record<string, ContentTable[string]> = Object.create(null);
  const extensionsOf = (type: string, setting: string): readonly string[] => {
    const extensions = mime.extensions[type.toLowerCase()];
    if (extensions === undefined) throw new Error(`${setting}: no file extension is known for media type "${type}"`);
    return extensions.filter((extension) => !SERVER_FILE_EXTENSIONS.has(extension));
  };
  const downloadedAs = new Map<string, string>();
  for (const type of policy.downloadTypes) {
    for (const extension of extensionsOf(type, 'DOWNLOAD_TYPES')) {
      table[extension] = { kind: 'download' };
      downloadedAs.set(extension, type);
    }
  }
  for (const type of policy.inlineTypes) {
    const contentType = mime.contentType(type) || type;
    for (const extension of extensionsOf(type, 'INLINE_TYPES')) {
      // Either choice would silently overrule one of the two settings.
      const downloaded = downloadedAs.get(extension);
      if (downloaded !== undefined) throw new Error(`INLINE_TYPES: "${type}" and DOWNLOAD_TYPES: "${downloaded}" both claim .${extension}; a file is shown or downloaded, not both`);
      table[extension] = { kind: 'inline', contentType };
    }
  }
  return table;
}
