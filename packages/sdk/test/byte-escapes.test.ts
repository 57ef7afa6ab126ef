/** The CPU path's byte pieces, printed by name by llama.cpp, back into characters as SentencePiece decodes them. */
import { describe, expect, it } from 'vitest';
import { ByteEscapes } from '../src/cpu/byte-escapes.js';

/** Feeds `pieces` one by one; returns everything emitted, and what each push returned. */
function run(pieces: string[]): { text: string; steps: string[] } {
  const e = new ByteEscapes();
  const steps = pieces.map((p) => e.push(p));
  return { text: steps.join('') + e.flush(), steps };
}

describe('ByteEscapes', () => {
  it('turns a character spelled in byte pieces back into it, held until its last byte arrives', () => {
    const r = run(['李', '<0xE5>', '<0x95>', '<0x86>', '隐']);
    expect(r.text).toBe('李商隐');
    expect(r.steps).toEqual(['李', '', '', '商', '隐']);
  });

  it('keeps a name cut between pieces until it is whole, and plain text as it is', () => {
    expect(run(['a<0', 'xE', '5><0x95><0x', '86>b']).text).toBe('a商b');
    expect(run(['x < y', ' <0 ok', ' <0xZZ>']).text).toBe('x < y <0 ok <0xZZ>');
    expect(run(['ends with <']).text).toBe('ends with <');
  });

  it('makes U+FFFD of bytes that are not UTF-8, as SentencePiece decodes them', () => {
    expect(run(['<0x99>', 'a']).text).toBe('\uFFFDa');
    expect(run(['<0xE5><0x95>', 'a']).text).toBe('\uFFFDa');
    expect(run(['<0xE5>']).text).toBe('\uFFFD');
  });
});
