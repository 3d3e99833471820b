// Cross-origin uploads (CORS, per the Fetch standard), pure: which origins may POST /upload
// from a page (CORS_ORIGINS), and the headers of the preflight and of the actual response.
// Without CORS_ORIGINS the server sends no CORS headers and browsers keep other origins out.
// No response ever allows credentials (cookies): a bearer token in an Authorization header
// needs none, and that is what lets `*` be offered at all.
import type { HeaderList } from '../core/response.js';

/** scheme://host[:port] with an optional trailing slash; no path, query, user or wildcard. */
const ORIGIN_SHAPE = /^https?:\/\/[^/?#@\s*\\]+\/?$/i;
/** Long enough to spare a preflight per upload, short enough that a policy change soon applies. */
const MAX_AGE_SECONDS = 600;
/** Response headers a page's script may read beyond the safelisted ones. */
const EXPOSED = 'Location, Retry-After, WWW-Authenticate, X-Trace-Id';

/** An origin entry's normalised form (lower case, no default port), or why it is not one. */
export function normaliseOrigin(entry: string): { readonly ok: true; readonly origin: string } | { readonly ok: false; readonly problem: string } {
  const problem = `"${entry}" is not an origin: write scheme://host[:port], e.g. https://app.example.com`;
  if (!ORIGIN_SHAPE.test(entry)) return { ok: false, problem };
  try {
    return { ok: true, origin: new URL(entry).origin };
  } catch {
    return { ok: false, problem };
  }
}

export class CorsPolicy {
  private constructor(
    /** Null when every origin may (`*`). */
    private readonly origins: ReadonlySet<string> | null,
    private readonly preflightRest: HeaderList,
  ) {}

  /**
   * CORS_ORIGINS: `*` alone, or a list of origins. Null for an empty list (CORS off). Throws
   * an Error naming the first bad entry. `tokensRequired`: uploads need an Authorization header.
   */
  static parse(entries: readonly string[], tokensRequired: boolean): CorsPolicy | null {
    if (entries.length === 0) return null;
    // A page traced in the W3C way (OpenTelemetry's fetch instrumentation) sends its trace along.
    const allowHeaders = tokensRequired ? 'Content-Type, Authorization, traceparent, tracestate' : 'Content-Type, traceparent, tracestate';
    const rest: HeaderList = [
      ['Access-Control-Allow-Methods', 'POST, OPTIONS'],
      ['Access-Control-Allow-Headers', allowHeaders],
      ['Access-Control-Max-Age', String(MAX_AGE_SECONDS)],
    ];
    if (entries.includes('*')) {
      if (entries.length > 1) throw new Error('"*" allows every origin and cannot be combined with listed origins');
      return new CorsPolicy(null, rest);
    }
    const origins = new Set<string>();
    for (const entry of entries) {
      const parsed = normaliseOrigin(entry);
      if (!parsed.ok) throw new Error(parsed.problem);
      origins.add(parsed.origin);
    }
    return new CorsPolicy(origins, rest);
  }

  /** The headers of the 204 that answers `OPTIONS /upload`. */
  preflight(origin: string | undefined): HeaderList {
    const allowed = this.allowOrigin(origin);
    return allowed === null ? VARY : [allowed, ...this.preflightRest, ...VARY];
  }

  /** Headers added to every response to a request for /upload. */
  response(origin: string | undefined): HeaderList {
    const allowed = this.allowOrigin(origin);
    return allowed === null ? VARY : [allowed, ['Access-Control-Expose-Headers', EXPOSED], ...VARY];
  }

  /** Browsers send the origin serialised as the policy keeps it, so an exact match is enough. */
  private allowOrigin(origin: string | undefined): readonly [string, string] | null {
    if (origin === undefined) return null;
    if (this.origins === null) return ['Access-Control-Allow-Origin', '*'];
    return this.origins.has(origin) ? ['Access-Control-Allow-Origin', origin] : null;
  }
}

/** Whether CORS headers appear depends on Origin, so caches must key on it. */
const VARY: HeaderList = [['Vary', 'Origin']];
