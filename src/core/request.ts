// A request as the parser delivers it: the head, and how its body is framed.

/** Lowercased header names to values; repeated fields are joined with ", ". */
export type Headers = Readonly<Record<string, string>>;

export type HttpVersion = '1.0' | '1.1';

export type BodyFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' };

export interface RequestHead {
  readonly method: string;
  readonly target: string;
  readonly version: HttpVersion;
  readonly headers: Headers;
  readonly framing: BodyFraming;
  /** What the client asked for: HTTP/1.1 unless `close`, HTTP/1.0 only with `keep-alive`. */
  readonly keepAlive: boolean;
  readonly expectContinue: boolean;
}

export interface ParsedRequest extends RequestHead {
  /** The body, a view over a whole ArrayBuffer of its own (safe to transfer to a worker); null when there is none. */
  readonly body: Uint8Array | null;
}
