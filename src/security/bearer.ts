// Bearer tokens (RFC 6750), pure apart from hashing: reading `Authorization: Bearer <token>`,
// a set of accepted tokens, and the refusal a request without a good one gets.
import { createHash, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import type { Refused } from '../core/refusals.js';
import type { HeaderList } from '../core/response.js';

/** RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** credentials = "Bearer" 1*SP b64token, the scheme in any case (RFC 9110 §11.1). */
const CREDENTIALS = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
const BEARER_SCHEME = /^bearer(?:[ \t]|$)/i;

const REALM = 'rawhttp';

/** Shorter tokens are words someone chose ("secret", "changeme"), which a guess finds. */
const MIN_TOKEN_LENGTH = 16;

/**
 * Why a configured token cannot be used, or null: it could not be sent in an Authorization
 * header, or it is too short to be random. Never quotes the token, which is a secret.
 */
export function tokenProblem(text: string): string | null {
  if (!B64TOKEN.test(text)) return 'not a bearer token: letters, digits, - . _ ~ + / and = at the end only (RFC 6750 b64token)';
  if (text.length < MIN_TOKEN_LENGTH) return `shorter than ${MIN_TOKEN_LENGTH} characters: use a random one, such as the output of openssl rand -base64 32`;
  return null;
}

export type Credentials = { readonly kind: 'none' } | { readonly kind: 'malformed' } | { readonly kind: 'token'; readonly token: string };

/** Another scheme (Basic...) carries no bearer credentials; "Bearer" with a bad token is malformed. */
export function bearerCredentials(authorization: string | undefined): Credentials {
  if (authorization === undefined) return { kind: 'none' };
  const match = CREDENTIALS.exec(authorization);
  if (match !== null) return { kind: 'token', token: match[1]! };
  return BEARER_SCHEME.test(authorization) ? { kind: 'malformed' } : { kind: 'none' };
}

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

/**
 * Accepted tokens, kept only as SHA-256 digests: equal lengths for timingSafeEqual, and
 * nothing to leak when the set is logged or inspected.
 */
export class TokenSet {
  readonly #digests: readonly Buffer[];

  constructor(tokens: Iterable<string>) {
    this.#digests = [...new Set(tokens)].map(digest);
  }

  get size(): number {
    return this.#digests.length;
  }

  /**
   * Compares with every token and never stops early, so the time taken tells nothing about
   * how close a guess came or which token it matched.
   */
  has(token: string): boolean {
    const candidate = digest(token);
    let matches = 0;
    for (const known of this.#digests) matches |= timingSafeEqual(known, candidate) ? 1 : 0;
    return matches === 1;
  }

  toJSON(): string {
    return `[${this.size} tokens]`;
  }

  [inspect.custom](): string {
    return `TokenSet ${this.toJSON()}`;
  }
}


/** A refusal with the challenge (`WWW-Authenticate`) its answer carries. */
export type BearerCheck = { readonly ok: true } | (Refused<'missing_token' | 'malformed_token' | 'invalid_token'> & { readonly headers: HeaderList });

/**
 * RFC 6750 §3: no credentials get a bare challenge (no error code); a malformed header is an
 * invalid_request (400); a well-formed token that is not accepted is an invalid_token (401).
 */
export function checkBearer(authorization: string | undefined, tokens: TokenSet): BearerCheck {
  const credentials = bearerCredentials(authorization);
  if (credentials.kind === 'none') return { ok: false, refusal: 'missing_token', detail: 'no bearer token', headers: [['WWW-Authenticate', `Bearer realm="${REALM}"`]] };
  if (credentials.kind === 'malformed') return { ok: false, refusal: 'malformed_token', detail: 'malformed bearer token', headers: [['WWW-Authenticate', `Bearer realm="${REALM}", error="invalid_request"`]] };
  if (!tokens.has(credentials.token)) return { ok: false, refusal: 'invalid_token', detail: 'bearer token not accepted', headers: [['WWW-Authenticate', `Bearer realm="${REALM}", error="invalid_token"`]] };
  return { ok: true };
}
