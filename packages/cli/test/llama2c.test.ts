/**
 * stories260K (a real trained llama2.c checkpoint, grouped-query attention, shared classifier)
 * imported at q0f32 must reproduce llama2.c's own logits and greedy tokens.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateGreedy } from '../../sdk/src/engine/generate.js';
import { importLlama2c } from '../src/import-llama2c.js';
import { loadNodeModel, type NodeModel } from '../src/runtime.js';
import { argmax } from '../../sdk/src/reference/kernels.js';
import { LAZY_FAST, maxAbsDiff, REPO_ROOT, sharedFile, tempDir } from '../../sdk/test/helpers.js';

const checkpoint = sharedFile('data/tinyllamas/stories260K.bin');
const tokenizerModel = sharedFile('data/tinyllamas/tok512.model');
const referenceDir = sharedFile('reference/llama2c');

interface GreedyReference {
  prompt: string;
  steps: number;
  prompt_tokens: number[];
  tokens: number[];
}

const readJson = <T>(name: string): T => JSON.parse(readFileSync(join(referenceDir!, name), 'utf8')) as T;

describe.skipIf(!checkpoint || !tokenizerModel || !referenceDir)('stories260K at q0f32 against llama2.c', () => {
  const dir = tempDir();
  const artifact = join(dir.path, 'stories260K-q0f32');
  let model: NodeModel;

  beforeAll(async () => {
    await importLlama2c(checkpoint!, tokenizerModel!, 'q0f32', artifact);
    model = await loadNodeModel(artifact, LAZY_FAST);
  });
  afterAll(() => {
    model?.dispose();
    dir.remove();
  });

  it('gives llama2.c\'s logits for BOS at position 0 within 1e-3', async () => {
    const ref = readJson<{ logits: number[]; argmax: number }>('logits_bos_pos0.json');
    const logits = await model.forward.run([1], 0, 'logits');
    expect(maxAbsDiff(logits, ref.logits)).toBeLessThan(1e-3);
    expect(argmax(logits)).toBe(ref.argmax);
  });

  it('gives llama2.c\'s logits at positions 0–4 of "Once upon a time", batched and token by token', async () => {
    const ref = readJson<{ prompt_tokens: number[]; positions: { logits: number[] }[] }>('logits_prompt_once_upon_a_time_all_positions.json');
    const V = model.info.config.vocabSize;
    const batched = await model.forward.run(ref.prompt_tokens, 0, 'all-logits');
    for (const [pos, { logits }] of ref.positions.entries()) {
      expect(maxAbsDiff(batched.subarray(pos * V, (pos + 1) * V), logits)).toBeLessThan(1e-3);
      const stepped = await model.forward.run([ref.prompt_tokens[pos]!], pos, 'logits');
      expect(maxAbsDiff(stepped, logits)).toBeLessThan(1e-3);
    }
  });

  for (const name of ['greedy_tokens_prompt_empty.json', 'greedy_tokens_prompt_once_upon_a_time.json']) {
    it(`reproduces llama2.c's 128-step greedy run token for token (${name})`, async () => {
      const ref = readJson<GreedyReference>(name);
      expect(model.tokenizer.encode(ref.prompt)).toEqual(ref.prompt_tokens.slice(1));
      const prompt = [...model.info.config.promptPrefixTokenIds, ...model.tokenizer.encode(ref.prompt)];
      const result = await generateGreedy(model.forward, prompt, {
        maxTokens: ref.steps - prompt.length + 1,
        stopTokenIds: model.info.config.stopTokenIds,
      });
      expect([...prompt, ...result.ids]).toEqual(ref.tokens);
    });
  }

  it('`webchuan generate` prints the continuation that follows the prompt in llama2.c\'s output', () => {
    const expected = readFileSync(join(referenceDir!, 'run_stdout_prompt_once_upon_a_time.txt'), 'utf8');
    const run = (...args: string[]) =>
      execFileSync(join(REPO_ROOT, 'node_modules/.bin/webchuan'), ['generate', '--model', artifact, '--prompt', 'Once upon a time', ...args], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    const text = run('--max-tokens', '124', '--temperature', '0');
    expect(`Once upon a time${text}\n`).toBe(expected);
    const json = JSON.parse(run('--max-tokens', '10', '--json')) as { ids: number[]; text: string };
    const ref = readJson<GreedyReference>('greedy_tokens_prompt_once_upon_a_time.json');
    expect(json.ids).toEqual(ref.tokens.slice(5, 15));
    expect(expected.startsWith(`Once upon a time${json.text}`)).toBe(true);
  });
});
