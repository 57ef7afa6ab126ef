/**
 * MD5 (RFC 1321), because MLC's own artifacts carry only an `md5sum` per shard and WebCrypto has no
 * MD5. It is used to check that a download arrived intact, never for security: a server that wants
 * to lie can lie about the hash too. The 64 steps are unrolled (generated from RFC 1321's tables),
 * which makes it several times faster than a loop over the tables in JavaScript engines.
 */

/** Hex MD5 digest of `bytes`, one 64-byte block at a time, without copying the input. */
export function md5Hex(bytes: Uint8Array): string {
  const state = new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476]);
  const whole = bytes.length - (bytes.length % 64);
  for (let at = 0; at < whole; at += 64) md5Block(state, bytes, at);
  // The tail: the last partial block, a 1 bit, zeros, and the length in bits (64-bit little-endian).
  const tail = new Uint8Array(bytes.length % 64 < 56 ? 64 : 128);
  tail.set(bytes.subarray(whole));
  tail[bytes.length % 64] = 0x80;
  const view = new DataView(tail.buffer);
  view.setUint32(tail.length - 8, (bytes.length * 8) >>> 0, true);
  view.setUint32(tail.length - 4, Math.floor(bytes.length / 2 ** 29), true);
  for (let at = 0; at < tail.length; at += 64) md5Block(state, tail, at);
  let hex = '';
  for (const word of state) for (let i = 0; i < 4; i++) hex += ((word >>> (8 * i)) & 0xff).toString(16).padStart(2, '0');
  return hex;
}

function word(x: Uint8Array, p: number): number {
  return x[p]! | (x[p + 1]! << 8) | (x[p + 2]! << 16) | (x[p + 3]! << 24);
}

function md5Block(state: Int32Array, x: Uint8Array, at: number): void {
  const m0 = word(x, at + 0);
  const m1 = word(x, at + 4);
  const m2 = word(x, at + 8);
  const m3 = word(x, at + 12);
  const m4 = word(x, at + 16);
  const m5 = word(x, at + 20);
  const m6 = word(x, at + 24);
  const m7 = word(x, at + 28);
  const m8 = word(x, at + 32);
  const m9 = word(x, at + 36);
  const m10 = word(x, at + 40);
  const m11 = word(x, at + 44);
  const m12 = word(x, at + 48);
  const m13 = word(x, at + 52);
  const m14 = word(x, at + 56);
  const m15 = word(x, at + 60);
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
    a = ((a + ((b & c) | (~b & d)) + m0 + 0xd76aa478) | 0); a = (((a << 7) | (a >>> 25)) + b) | 0;
    d = ((d + ((a & b) | (~a & c)) + m1 + 0xe8c7b756) | 0); d = (((d << 12) | (d >>> 20)) + a) | 0;
    c = ((c + ((d & a) | (~d & b)) + m2 + 0x242070db) | 0); c = (((c << 17) | (c >>> 15)) + d) | 0;
    b = ((b + ((c & d) | (~c & a)) + m3 + 0xc1bdceee) | 0); b = (((b << 22) | (b >>> 10)) + c) | 0;
    a = ((a + ((b & c) | (~b & d)) + m4 + 0xf57c0faf) | 0); a = (((a << 7) | (a >>> 25)) + b) | 0;
    d = ((d + ((a & b) | (~a & c)) + m5 + 0x4787c62a) | 0); d = (((d << 12) | (d >>> 20)) + a) | 0;
    c = ((c + ((d & a) | (~d & b)) + m6 + 0xa8304613) | 0); c = (((c << 17) | (c >>> 15)) + d) | 0;
    b = ((b + ((c & d) | (~c & a)) + m7 + 0xfd469501) | 0); b = (((b << 22) | (b >>> 10)) + c) | 0;
    a = ((a + ((b & c) | (~b & d)) + m8 + 0x698098d8) | 0); a = (((a << 7) | (a >>> 25)) + b) | 0;
    d = ((d + ((a & b) | (~a & c)) + m9 + 0x8b44f7af) | 0); d = (((d << 12) | (d >>> 20)) + a) | 0;
    c = ((c + ((d & a) | (~d & b)) + m10 + 0xffff5bb1) | 0); c = (((c << 17) | (c >>> 15)) + d) | 0;
    b = ((b + ((c & d) | (~c & a)) + m11 + 0x895cd7be) | 0); b = (((b << 22) | (b >>> 10)) + c) | 0;
    a = ((a + ((b & c) | (~b & d)) + m12 + 0x6b901122) | 0); a = (((a << 7) | (a >>> 25)) + b) | 0;
    d = ((d + ((a & b) | (~a & c)) + m13 + 0xfd987193) | 0); d = (((d << 12) | (d >>> 20)) + a) | 0;
    c = ((c + ((d & a) | (~d & b)) + m14 + 0xa679438e) | 0); c = (((c << 17) | (c >>> 15)) + d) | 0;
    b = ((b + ((c & d) | (~c & a)) + m15 + 0x49b40821) | 0); b = (((b << 22) | (b >>> 10)) + c) | 0;
    a = ((a + ((d & b) | (~d & c)) + m1 + 0xf61e2562) | 0); a = (((a << 5) | (a >>> 27)) + b) | 0;
    d = ((d + ((c & a) | (~c & b)) + m6 + 0xc040b340) | 0); d = (((d << 9) | (d >>> 23)) + a) | 0;
    c = ((c + ((b & d) | (~b & a)) + m11 + 0x265e5a51) | 0); c = (((c << 14) | (c >>> 18)) + d) | 0;
    b = ((b + ((a & c) | (~a & d)) + m0 + 0xe9b6c7aa) | 0); b = (((b << 20) | (b >>> 12)) + c) | 0;
    a = ((a + ((d & b) | (~d & c)) + m5 + 0xd62f105d) | 0); a = (((a << 5) | (a >>> 27)) + b) | 0;
    d = ((d + ((c & a) | (~c & b)) + m10 + 0x02441453) | 0); d = (((d << 9) | (d >>> 23)) + a) | 0;
    c = ((c + ((b & d) | (~b & a)) + m15 + 0xd8a1e681) | 0); c = (((c << 14) | (c >>> 18)) + d) | 0;
    b = ((b + ((a & c) | (~a & d)) + m4 + 0xe7d3fbc8) | 0); b = (((b << 20) | (b >>> 12)) + c) | 0;
    a = ((a + ((d & b) | (~d & c)) + m9 + 0x21e1cde6) | 0); a = (((a << 5) | (a >>> 27)) + b) | 0;
    d = ((d + ((c & a) | (~c & b)) + m14 + 0xc33707d6) | 0); d = (((d << 9) | (d >>> 23)) + a) | 0;
    c = ((c + ((b & d) | (~b & a)) + m3 + 0xf4d50d87) | 0); c = (((c << 14) | (c >>> 18)) + d) | 0;
    b = ((b + ((a & c) | (~a & d)) + m8 + 0x455a14ed) | 0); b = (((b << 20) | (b >>> 12)) + c) | 0;
    a = ((a + ((d & b) | (~d & c)) + m13 + 0xa9e3e905) | 0); a = (((a << 5) | (a >>> 27)) + b) | 0;
    d = ((d + ((c & a) | (~c & b)) + m2 + 0xfcefa3f8) | 0); d = (((d << 9) | (d >>> 23)) + a) | 0;
    c = ((c + ((b & d) | (~b & a)) + m7 + 0x676f02d9) | 0); c = (((c << 14) | (c >>> 18)) + d) | 0;
    b = ((b + ((a & c) | (~a & d)) + m12 + 0x8d2a4c8a) | 0); b = (((b << 20) | (b >>> 12)) + c) | 0;
    a = ((a + (b ^ c ^ d) + m5 + 0xfffa3942) | 0); a = (((a << 4) | (a >>> 28)) + b) | 0;
    d = ((d + (a ^ b ^ c) + m8 + 0x8771f681) | 0); d = (((d << 11) | (d >>> 21)) + a) | 0;
    c = ((c + (d ^ a ^ b) + m11 + 0x6d9d6122) | 0); c = (((c << 16) | (c >>> 16)) + d) | 0;
    b = ((b + (c ^ d ^ a) + m14 + 0xfde5380c) | 0); b = (((b << 23) | (b >>> 9)) + c) | 0;
    a = ((a + (b ^ c ^ d) + m1 + 0xa4beea44) | 0); a = (((a << 4) | (a >>> 28)) + b) | 0;
    d = ((d + (a ^ b ^ c) + m4 + 0x4bdecfa9) | 0); d = (((d << 11) | (d >>> 21)) + a) | 0;
    c = ((c + (d ^ a ^ b) + m7 + 0xf6bb4b60) | 0); c = (((c << 16) | (c >>> 16)) + d) | 0;
    b = ((b + (c ^ d ^ a) + m10 + 0xbebfbc70) | 0); b = (((b << 23) | (b >>> 9)) + c) | 0;
    a = ((a + (b ^ c ^ d) + m13 + 0x289b7ec6) | 0); a = (((a << 4) | (a >>> 28)) + b) | 0;
    d = ((d + (a ^ b ^ c) + m0 + 0xeaa127fa) | 0); d = (((d << 11) | (d >>> 21)) + a) | 0;
    c = ((c + (d ^ a ^ b) + m3 + 0xd4ef3085) | 0); c = (((c << 16) | (c >>> 16)) + d) | 0;
    b = ((b + (c ^ d ^ a) + m6 + 0x04881d05) | 0); b = (((b << 23) | (b >>> 9)) + c) | 0;
    a = ((a + (b ^ c ^ d) + m9 + 0xd9d4d039) | 0); a = (((a << 4) | (a >>> 28)) + b) | 0;
    d = ((d + (a ^ b ^ c) + m12 + 0xe6db99e5) | 0); d = (((d << 11) | (d >>> 21)) + a) | 0;
    c = ((c + (d ^ a ^ b) + m15 + 0x1fa27cf8) | 0); c = (((c << 16) | (c >>> 16)) + d) | 0;
    b = ((b + (c ^ d ^ a) + m2 + 0xc4ac5665) | 0); b = (((b << 23) | (b >>> 9)) + c) | 0;
    a = ((a + (c ^ (b | ~d)) + m0 + 0xf4292244) | 0); a = (((a << 6) | (a >>> 26)) + b) | 0;
    d = ((d + (b ^ (a | ~c)) + m7 + 0x432aff97) | 0); d = (((d << 10) | (d >>> 22)) + a) | 0;
    c = ((c + (a ^ (d | ~b)) + m14 + 0xab9423a7) | 0); c = (((c << 15) | (c >>> 17)) + d) | 0;
    b = ((b + (d ^ (c | ~a)) + m5 + 0xfc93a039) | 0); b = (((b << 21) | (b >>> 11)) + c) | 0;
    a = ((a + (c ^ (b | ~d)) + m12 + 0x655b59c3) | 0); a = (((a << 6) | (a >>> 26)) + b) | 0;
    d = ((d + (b ^ (a | ~c)) + m3 + 0x8f0ccc92) | 0); d = (((d << 10) | (d >>> 22)) + a) | 0;
    c = ((c + (a ^ (d | ~b)) + m10 + 0xffeff47d) | 0); c = (((c << 15) | (c >>> 17)) + d) | 0;
    b = ((b + (d ^ (c | ~a)) + m1 + 0x85845dd1) | 0); b = (((b << 21) | (b >>> 11)) + c) | 0;
    a = ((a + (c ^ (b | ~d)) + m8 + 0x6fa87e4f) | 0); a = (((a << 6) | (a >>> 26)) + b) | 0;
    d = ((d + (b ^ (a | ~c)) + m15 + 0xfe2ce6e0) | 0); d = (((d << 10) | (d >>> 22)) + a) | 0;
    c = ((c + (a ^ (d | ~b)) + m6 + 0xa3014314) | 0); c = (((c << 15) | (c >>> 17)) + d) | 0;
    b = ((b + (d ^ (c | ~a)) + m13 + 0x4e0811a1) | 0); b = (((b << 21) | (b >>> 11)) + c) | 0;
    a = ((a + (c ^ (b | ~d)) + m4 + 0xf7537e82) | 0); a = (((a << 6) | (a >>> 26)) + b) | 0;
    d = ((d + (b ^ (a | ~c)) + m11 + 0xbd3af235) | 0); d = (((d << 10) | (d >>> 22)) + a) | 0;
    c = ((c + (a ^ (d | ~b)) + m2 + 0x2ad7d2bb) | 0); c = (((c << 15) | (c >>> 17)) + d) | 0;
    b = ((b + (d ^ (c | ~a)) + m9 + 0xeb86d391) | 0); b = (((b << 21) | (b >>> 11)) + c) | 0;
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
}
