// CORS on the wire: the header lines a response to /upload carries when CORS_ORIGINS is set
// (the rules are security/cors.ts), rendered once per request into Exchange.fieldLines.
import type { RequestHead } from '../core/request.js';
import { UPLOAD_PATH } from '../core/routes.js';
import type { CorsPolicy } from '../security/cors.js';

/**
 * Whether the target is /upload as a browser writes it: origin form, with or without a
 * query. Other spellings (percent-encoded, absolute form) get no CORS fields, so a browser
 * refuses the page their response: the mistake fails closed.
 */
function isUploadTarget(target: string): boolean {
  return target.startsWith(UPLOAD_PATH) && (target.length === UPLOAD_PATH.length || target[UPLOAD_PATH.length] === '?');
}

/** The CORS header lines for this request, CRLF included; '' for a target other than /upload. */
export function corsFieldLines(cors: CorsPolicy, head: RequestHead): string {
  if (!isUploadTarget(head.target)) return '';
  const origin = head.headers.origin;
  // OPTIONS is the browser's preflight; every other response gets the actual-response fields.
  const fields = head.method === 'OPTIONS' ? cors.preflight(origin) : cors.response(origin);
  let lines = '';
  for (const [name, value] of fields) lines += `${name}: ${value}\r\n`;
  return lines;
}
