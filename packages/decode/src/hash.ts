// 32-bit MurmurHash3 building blocks: cheap, well mixed, and allocation-free with Math.imul.

/** Mixes one 32-bit word into a running MurmurHash3 state. */
export function mixWord(state: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  let h = state ^ k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/**
 * MurmurHash3's finalizer: every input bit affects every output bit. Returns the top 31 bits, a
 * non-negative integer below 2^31: V8 keeps it as a small integer, so passing it around allocates nothing
 * (an unsigned 32-bit result above 2^31 would be boxed on every call that is not inlined).
 */
export function finalizeHash(state: number, length: number): number {
  let h = state ^ length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 1;
}

/** MurmurHash3 (x86, 32-bit; top 31 bits kept) of a string's UTF-8 bytes: node names become rendezvous seeds. */
export function hashString(text: string, seed = 0): number {
  const bytes = new TextEncoder().encode(text);
  let h = seed | 0;
  const whole = bytes.length & ~3;
  for (let i = 0; i < whole; i += 4) {
    h = mixWord(h, bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
  }
  const rest = bytes.length & 3;
  if (rest > 0) {
    let tail = bytes[whole]!;
    if (rest > 1) tail |= bytes[whole + 1]! << 8;
    if (rest > 2) tail |= bytes[whole + 2]! << 16;
    let k = Math.imul(tail, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
  }
  return finalizeHash(h, bytes.length);
}
