/** Our MD5 against RFC 1321's test suite (appendix A.5) and against Node's OpenSSL on awkward lengths. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../src/model/random.js';
import { md5Hex } from '../src/store/md5.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('md5Hex', () => {
  it('gives the digests of RFC 1321, appendix A.5', () => {
    const suite: [string, string][] = [
      ['', 'd41d8cd98f00b204e9800998ecf8427e'],
      ['a', '0cc175b9c0f1b6a831c399e269772661'],
      ['abc', '900150983cd24fb0d6963f7d28e17f72'],
      ['message digest', 'f96b697d7cb7938d525a2f31aaf161d0'],
      ['abcdefghijklmnopqrstuvwxyz', 'c3fcd3d76192e4007dfb496cca67e13b'],
      ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 'd174ab98d277d9f5a5611c2c9f419d9f'],
      ['12345678901234567890123456789012345678901234567890123456789012345678901234567890', '57edf4a22be3c955ac49da2e2107b67a'],
    ];
    for (const [input, digest] of suite) expect(md5Hex(utf8(input)), JSON.stringify(input)).toBe(digest);
  });

  it('agrees with OpenSSL on every length around the block and padding boundaries, and on a large input', () => {
    const next = mulberry32(5);
    const data = Uint8Array.from({ length: 300_000 }, () => Math.floor(next() * 256));
    for (const length of [...Array.from({ length: 200 }, (_, i) => i), 1000, 4096, 65_537, 300_000]) {
      const slice = data.subarray(0, length);
      expect(md5Hex(slice), `length ${length}`).toBe(createHash('md5').update(slice).digest('hex'));
    }
    // A view into a larger buffer (as a shard read from IndexedDB may be).
    expect(md5Hex(data.subarray(7, 1007))).toBe(createHash('md5').update(data.subarray(7, 1007)).digest('hex'));
  });
});
