import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamingDetokenizer, TokenizerCrashError, type TextTokenizer } from '../../sdk/src/tokenizer/tokenizer.js';
import { loadNodeTokenizer } from '../src/runtime.js';
import { tinyTokenizerModel } from '../src/tiny-tokenizer.js';
import { InvalidRequestError } from '../../sdk/src/errors.js';
import { importLlama2c } from '../src/import-llama2c.js';
import { REPO_ROOT, sharedFile, tempDir } from '../../sdk/test/helpers.js';

const baichuanModel = sharedFile('data/baichuan-7b/tokenizer.model');
const baichuanReference = sharedFile('reference/baichuan-tokenizer/encode_reference.json');
const tok512 = sharedFile('data/tinyllamas/tok512.model');
const tok512Reference = sharedFile('reference/llama2c/encode_tok512.json');
const stories = sharedFile('data/tinyllamas/stories260K.bin');

interface EncodeCase {
  text: string;
  ids: number[];
  decoded: string;
}

describe.skipIf(!baichuanModel || !baichuanReference)('Baichuan-7B tokenizer.model', () => {
  let tokenizer: TextTokenizer;
  beforeAll(async () => {
    tokenizer = await loadNodeTokenizer(baichuanModel!);
  });
  afterAll(() => tokenizer?.dispose());

  it('encodes and decodes like SentencePiece on every reference string', () => {
    const { cases } = JSON.parse(readFileSync(baichuanReference!, 'utf8')) as { cases: EncodeCase[] };
    expect(cases.length).toBeGreaterThan(20);
    for (const c of cases) {
      expect(tokenizer.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
      expect(tokenizer.decode(c.ids)).toBe(c.decoded);
    }
    expect(tokenizer.vocabSize).toBe(64000);
  });

  it('restarts its wasm runtime after a trap: a 64 MB text aborts it, the next call works as before', async () => {
    const before = tokenizer.encode('你好，世界');
    expect(() => tokenizer.encode('word '.repeat((64 * 1024 * 1024) / 5))).toThrow(TokenizerCrashError);
    expect(tokenizer.usable).toBe(false);
    expect(() => tokenizer.encode('你好')).toThrow(TokenizerCrashError);
    await tokenizer.revive();
    expect(tokenizer.encode('你好，世界')).toEqual(before);
    expect(tokenizer.decode(before)).toBe('你好，世界');
  });

  it('streams Chinese text without ever emitting part of a UTF-8 character', () => {
    const text = '登鹳雀楼->王之涣\n夜雨寄北->李商隐 𠀀𠀁 百川大模型, emoji 🧪 and ümlauts';
    const ids = tokenizer.encode(text);
    const bytePieces = ids.filter((id) => /^<0x[0-9A-F]{2}>$/.test(tokenizer.idToToken(id)));
    expect(bytePieces.length).toBeGreaterThan(0); // rare CJK (U+20000) arrive as byte-fallback pieces
    const prompt = tokenizer.encode('诗：');
    const detok = new StreamingDetokenizer(tokenizer, prompt);
    let streamed = '';
    for (const id of ids) {
      const piece = detok.push(id);
      expect(piece).not.toContain('\uFFFD');
      streamed += piece;
    }
    streamed += detok.flush();
    const whole = tokenizer.decode([...prompt, ...ids]);
    expect(tokenizer.decode(prompt) + streamed).toBe(whole);
  });

  it('`webchuan tokenize` prints one JSON array of ids per JSON string line', () => {
    const input = ['Hello, world!', '你好，世界', 'Once upon a time'].map((s) => JSON.stringify(s)).join('\n');
    const out = execFileSync(join(REPO_ROOT, 'node_modules/.bin/webchuan'), ['tokenize', '--tokenizer', baichuanModel!], { input, encoding: 'utf8' });
    expect(out.trim().split('\n').map((l) => JSON.parse(l) as number[])).toEqual([
      tokenizer.encode('Hello, world!'),
      tokenizer.encode('你好，世界'),
      tokenizer.encode('Once upon a time'),
    ]);
  });
});

describe.skipIf(!tok512 || !tok512Reference || !stories)('llama2.c tok512', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());
  const cases = () => JSON.parse(readFileSync(tok512Reference!, 'utf8')) as { text: string; ids_with_bos: number[] }[];

  it('SentencePiece as trained collapses runs of spaces, unlike run.c', async () => {
    const tokenizer = await loadNodeTokenizer(tok512!);
    const twoSpaces = cases().find((c) => c.text === '  two  spaces')!;
    expect(tokenizer.encode(twoSpaces.text)).not.toEqual(twoSpaces.ids_with_bos.slice(1));
    tokenizer.dispose();
  });

  it('the imported model tokenizes exactly as llama2.c run.c, runs of spaces included', async () => {
    await importLlama2c(stories!, tok512!, 'q0f32', join(dir.path, 's260'));
    const tokenizer = await loadNodeTokenizer(join(dir.path, 's260'));
    for (const c of cases()) expect(tokenizer.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids_with_bos.slice(1));
    tokenizer.dispose();
  });
});

describe("Hugging Face tokenizer.json (the kind WebLLM's LLaMA-family artifacts carry)", () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('loads a WordLevel tokenizer.json, encodes, decodes and reports its vocabulary', async () => {
    const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
    for (let i = 3; i < 100; i++) vocab[`w${i}`] = i;
    const json = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [0, 1, 2].map((id) => ({ id, content: Object.keys(vocab)[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
      normalizer: null,
      pre_tokenizer: { type: 'WhitespaceSplit' },
      post_processor: null,
      decoder: null,
      model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
    };
    const file = join(dir.path, 'tokenizer.json');
    writeFileSync(file, JSON.stringify(json));
    const tokenizer = await loadNodeTokenizer(file);
    try {
      expect(tokenizer.vocabSize).toBe(100);
      expect(tokenizer.encode('w5 w17  w99 nope')).toEqual([5, 17, 99, 0]);
      expect(tokenizer.decode([5, 17, 99])).toBe('w5 w17 w99');
      expect(tokenizer.idToToken(42)).toBe('w42');
    } finally {
      tokenizer.dispose();
    }
  });
});

describe('decode of ids that are not tokens', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('is an InvalidRequestError naming the first bad id (param "ids"), never "" or another token; a stream skips them', async () => {
    const file = join(dir.path, 'tokenizer.model');
    writeFileSync(file, tinyTokenizerModel());
    const tokenizer = await loadNodeTokenizer(file);
    try {
      const size = tokenizer.vocabSize;
      const cases: [unknown, RegExp][] = [
        [[-1], /ids\[0\]: -1 is not a token id/],
        [[5, size], new RegExp(`ids\\[1\\]: ${size} is not a token id of this tokenizer \\(integers 0…${size - 1}\\)`)],
        [[1.5], /ids\[0\]: 1\.5 is not/],
        [[Number.NaN], /ids\[0\]: NaN is not/],
        [['5'], /ids\[0\]: "5" is not/],
        [[2 ** 32 + 5], /ids\[0\]: 4294967301 is not/], // Int32Array would wrap it to 5
        ['not a list', /ids: must be a list of token ids, got string/],
      ];
      for (const [ids, message] of cases) {
        let caught: unknown;
        try {
          tokenizer.decode(ids as number[]);
        } catch (error) {
          caught = error;
        }
        expect(caught, JSON.stringify(ids)).toBeInstanceOf(InvalidRequestError);
        expect((caught as InvalidRequestError).param).toBe('ids');
        expect((caught as Error).message).toMatch(message);
      }
      expect(() => tokenizer.encode(42 as unknown as string)).toThrow(/text: must be a string, got number/);
      // Generation may sample an id the model has and the tokenizer lacks (a vocabulary padded for the
      // GPU): a stream gives it no text, as before, instead of failing the request.
      const ids = tokenizer.encode('hello');
      const detok = new StreamingDetokenizer(tokenizer, []);
      const streamed = [...ids.flatMap((id) => [id, size + 3])].map((id) => detok.push(id)).join('') + detok.flush();
      expect(streamed).toBe(tokenizer.decode(ids));
    } finally {
      tokenizer.dispose();
    }
  });
});
