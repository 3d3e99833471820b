// A JSON syntax checker over raw bytes, pure. JSON.parse says what is wrong but not where
// (V8 dropped the position from most messages); this one reports the byte offset, and it
// uses an explicit stack so deep nesting cannot overflow the call stack.

export type JsonCheck = { readonly ok: true } | { readonly ok: false; readonly offset: number; readonly message: string };

/**
 * Deepest nesting accepted (RFC 8259 §9 lets a parser limit it). A body of 1 MiB of `[` would
 * otherwise grow the stack to a million entries, and the worker's heap with it, which it
 * keeps; and the readers of the stored documents refuse such depths anyway (serde_json past
 * 128 levels, Python's json near 1000).
 */
export const MAX_JSON_DEPTH = 1000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

function isDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x39;
}

function isHex(byte: number | undefined): boolean {
  return byte !== undefined && (isDigit(byte) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66));
}

class JsonSyntaxError extends Error {
  constructor(readonly offset: number, message: string) {
    super(message);
  }
}

/** Checks that `bytes` hold exactly one JSON value (RFC 8259), surrounded only by whitespace. */
export function checkJson(bytes: Uint8Array): JsonCheck {
  try {
    let at = skipWhitespace(bytes, 0);
    if (at === bytes.length) throw new JsonSyntaxError(at, 'empty document');
    at = scanValue(bytes, at);
    at = skipWhitespace(bytes, at);
    if (at !== bytes.length) throw new JsonSyntaxError(at, 'unexpected data after the JSON value');
    return { ok: true };
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    return { ok: false, offset: error.offset, message: error.message };
  }
}

function skipWhitespace(bytes: Uint8Array, at: number): number {
  while (at < bytes.length && isWhitespace(bytes[at]!)) at++;
  return at;
}

function expectByte(bytes: Uint8Array, at: number, byte: number, what: string): number {
  if (bytes[at] !== byte) throw new JsonSyntaxError(at, at >= bytes.length ? `unexpected end, expected ${what}` : `expected ${what}`);
  return at + 1;
}

/** Containers open on a stack; each entry remembers whether it is an object ({) or an array ([). */
function scanValue(bytes: Uint8Array, start: number): number {
  const stack: number[] = [];
  let at = start;
  for (;;) {
    at = skipWhitespace(bytes, at);
    const byte = bytes[at];
    if (byte === 0x7b || byte === 0x5b) {
      if (stack.length === MAX_JSON_DEPTH) throw new JsonSyntaxError(at, `nested deeper than ${MAX_JSON_DEPTH} levels`);
      stack.push(byte);
      at = skipWhitespace(bytes, at + 1);
      const close = byte === 0x7b ? 0x7d : 0x5d;
      if (bytes[at] === close) {
        stack.pop();
        at++;
      } else {
        if (byte === 0x7b) at = scanMemberName(bytes, at);
        continue;
      }
    } else {
      at = scanScalar(bytes, at);
    }
    // After a value: close containers or move on to the next element.
    for (;;) {
      if (stack.length === 0) return at;
      at = skipWhitespace(bytes, at);
      const container = stack[stack.length - 1]!;
      const close = container === 0x7b ? 0x7d : 0x5d;
      if (bytes[at] === close) {
        stack.pop();
        at++;
        continue;
      }
      at = expectByte(bytes, at, 0x2c, container === 0x7b ? '"," or "}"' : '"," or "]"');
      if (container === 0x7b) at = scanMemberName(bytes, skipWhitespace(bytes, at));
      break;
    }
  }
}

/** `"name" :` inside an object; returns the offset after the colon. */
function scanMemberName(bytes: Uint8Array, at: number): number {
  if (bytes[at] !== QUOTE) throw new JsonSyntaxError(at, 'expected a member name in double quotes');
  at = skipWhitespace(bytes, scanString(bytes, at));
  return expectByte(bytes, at, 0x3a, '":"');
}

function scanScalar(bytes: Uint8Array, at: number): number {
  const byte = bytes[at];
  if (byte === QUOTE) return scanString(bytes, at);
  if (byte === 0x2d || isDigit(byte)) return scanNumber(bytes, at);
  for (const literal of ['true', 'false', 'null']) {
    if (byte === literal.charCodeAt(0)) {
      for (let i = 1; i < literal.length; i++) {
        if (bytes[at + i] !== literal.charCodeAt(i)) throw new JsonSyntaxError(at + i, `invalid literal, expected ${literal}`);
      }
      return at + literal.length;
    }
  }
  throw new JsonSyntaxError(at, at >= bytes.length ? 'unexpected end, expected a value' : 'unexpected character, expected a value');
}

function scanString(bytes: Uint8Array, at: number): number {
  at++; // opening quote
  for (;;) {
    const byte = bytes[at];
    if (byte === undefined) throw new JsonSyntaxError(at, 'unterminated string');
    if (byte === QUOTE) return at + 1;
    if (byte < 0x20) throw new JsonSyntaxError(at, 'control character in string');
    if (byte === BACKSLASH) {
      const escape = bytes[at + 1];
      if (escape === 0x75) {
        at = scanUnicodeEscape(bytes, at);
        continue;
      }
      // " \ / b f n r t
      if (escape === undefined || ![0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74].includes(escape)) {
        throw new JsonSyntaxError(at + 1, 'invalid escape');
      }
      at += 2;
      continue;
    }
    at++;
  }
}

function checkHexDigits(bytes: Uint8Array, at: number): void {
  for (let i = at; i < at + 4; i++) if (!isHex(bytes[i])) throw new JsonSyntaxError(i, 'invalid \\u escape');
}

/** Which half of a surrogate pair the four (checked) hex digits at `at` name: D800-DBFF high, DC00-DFFF low. */
function surrogateHalf(bytes: Uint8Array, at: number): 'high' | 'low' | null {
  // OR 0x20 lowers A-F and leaves the digits as they are.
  if ((bytes[at]! | 0x20) !== 0x64) return null;
  const second = bytes[at + 1]! | 0x20;
  if (second === 0x38 || second === 0x39 || second === 0x61 || second === 0x62) return 'high';
  return second >= 0x63 ? 'low' : null;
}

/**
 * `\uXXXX` from the backslash at `at`; returns the offset after it, or after the pair's second
 * escape. An unpaired surrogate is refused: RFC 8259 §8.2 leaves what a reader does with it
 * unpredictable, RFC 7493 §2.1 (I-JSON) forbids it, and serde_json refuses the document.
 */
function scanUnicodeEscape(bytes: Uint8Array, at: number): number {
  checkHexDigits(bytes, at + 2);
  const half = surrogateHalf(bytes, at + 2);
  if (half === null) return at + 6;
  if (half === 'low') throw new JsonSyntaxError(at, 'a low surrogate escape (\\uDC00-\\uDFFF) must follow a high one (\\uD800-\\uDBFF)');
  const paired = bytes[at + 6] === BACKSLASH && bytes[at + 7] === 0x75;
  if (paired) checkHexDigits(bytes, at + 8);
  if (!paired || surrogateHalf(bytes, at + 8) !== 'low') {
    throw new JsonSyntaxError(at, 'a high surrogate escape (\\uD800-\\uDBFF) must be followed by a low one (\\uDC00-\\uDFFF)');
  }
  return at + 12;
}

function scanNumber(bytes: Uint8Array, at: number): number {
  if (bytes[at] === 0x2d) at++;
  if (bytes[at] === 0x30) {
    at++;
    // Else `01` would pass as `0` and fail as data after the value.
    if (isDigit(bytes[at])) throw new JsonSyntaxError(at, 'a number must not have a leading zero');
  } else if (isDigit(bytes[at])) {
    while (isDigit(bytes[at])) at++;
  } else {
    throw new JsonSyntaxError(at, 'invalid number');
  }
  if (bytes[at] === 0x2e) {
    at++;
    if (!isDigit(bytes[at])) throw new JsonSyntaxError(at, 'invalid number: digit expected after "."');
    while (isDigit(bytes[at])) at++;
  }
  if (bytes[at] === 0x65 || bytes[at] === 0x45) {
    at++;
    if (bytes[at] === 0x2b || bytes[at] === 0x2d) at++;
    if (!isDigit(bytes[at])) throw new JsonSyntaxError(at, 'invalid number: digit expected in exponent');
    while (isDigit(bytes[at])) at++;
  }
  return at;
}
