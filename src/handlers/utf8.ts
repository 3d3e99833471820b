// Where UTF-8 goes wrong, pure. Buffer's isUtf8 says whether bytes are valid, fast, but not
// where they are not; this slower walk runs only once isUtf8 has said no, to name the byte.

/**
 * The well-formed sequences by their lead byte (Unicode §3.9, table 3-7): the range of the
 * second byte is narrower after E0, ED, F0 and F4, which rules out overlong forms, surrogates
 * (ED A0-BF) and code points past U+10FFFF. Every later byte is 80-BF.
 */
const SEQUENCES: ReadonlyArray<{ readonly leads: readonly [number, number]; readonly second: readonly [number, number]; readonly length: 2 | 3 | 4 }> = [
  { leads: [0xc2, 0xdf], second: [0x80, 0xbf], length: 2 },
  { leads: [0xe0, 0xe0], second: [0xa0, 0xbf], length: 3 },
  { leads: [0xe1, 0xec], second: [0x80, 0xbf], length: 3 },
  { leads: [0xed, 0xed], second: [0x80, 0x9f], length: 3 },
  { leads: [0xee, 0xef], second: [0x80, 0xbf], length: 3 },
  { leads: [0xf0, 0xf0], second: [0x90, 0xbf], length: 4 },
  { leads: [0xf1, 0xf3], second: [0x80, 0xbf], length: 4 },
  { leads: [0xf4, 0xf4], second: [0x80, 0x8f], length: 4 },
];

const CONTINUATION = [0x80, 0xbf] as const;

const within = (byte: number | undefined, [low, high]: readonly [number, number]): boolean => byte !== undefined && byte >= low && byte <= high;

/** The length of the well-formed sequence at `at`, or 0 when none starts there. */
function sequenceLength(bytes: Uint8Array, at: number): number {
  const lead = bytes[at]!;
  if (lead < 0x80) return 1;
  const sequence = SEQUENCES.find(({ leads }) => within(lead, leads));
  if (sequence === undefined || !within(bytes[at + 1], sequence.second)) return 0;
  for (let i = 2; i < sequence.length; i++) if (!within(bytes[at + i], CONTINUATION)) return 0;
  return sequence.length;
}

/** The offset where the first ill-formed sequence starts (its lead byte, or a stray continuation byte), or null if there is none. */
export function firstInvalidUtf8(bytes: Uint8Array): number | null {
  let at = 0;
  while (at < bytes.length) {
    const length = sequenceLength(bytes, at);
    if (length === 0) return at;
    at += length;
  }
  return null;
}
