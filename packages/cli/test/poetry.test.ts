/**
 * The poetry model (models/poetry, Baichuan-7B's architecture, trained on Tang poetry) through our
 * converter and engine against what PyTorch computed on the same checkpoint (models/poetry/reference):
 * logits and greedy tokens at q0f32, the committed q4 artifacts being exactly today's converter output,
 * the seed prompt on every quantization, the quiz harness's choices, and the issue's accuracy floors on
 * deterministic subsets. The full figures come from packages/cli/scripts/poetry-metrics.ts: on
 * SwiftShader every token costs a few hundred ms, so this file runs samples to stay within CI's budget.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateGreedy } from '../../sdk/src/engine/generate.js';
import type { Quantization } from '../../sdk/src/model/quant.js';
import { argmax } from '../../sdk/src/reference/kernels.js';
import { LAZY_FAST, maxAbsDiff, REPO_ROOT, tempDir } from '../../sdk/test/helpers.js';
import type { PytorchReferenceCase as Case } from '../../sdk/test/helpers.js';
import { convertHf } from '../src/convert.js';
import {
  everyNth, LineDecoder, loadPoems, poetryPaths, quizAgreement, recitation, SEED_PROMPT, singleAuthorTitles, titleAuthor,
  type PytorchQuiz,
} from '../src/poetry-metrics.js';
import { loadNodeModel, type NodeModel } from '../src/runtime.js';

const paths = poetryPaths(REPO_ROOT);
/** Per-test limit: SwiftShader on a busy 2-core machine runs these at a few hundred ms per token. */
const SLOW = 600_000;
const dir = tempDir('webchuan-poetry-');
afterAll(() => dir.remove());

const q0f32 = join(dir.path, 'q0f32');
let model: NodeModel;
beforeAll(async () => {
  await convertHf(paths.checkpoint, 'q0f32', q0f32);
  model = await loadNodeModel(q0f32, LAZY_FAST);
}, SLOW);
afterAll(() => model?.dispose());

/** Seconds taken by each part, printed at the end: the budget of this file is watched. */
const timings: Record<string, number> = {};
async function timed<T>(name: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    timings[name] = Math.round((performance.now() - t0) / 100) / 10;
  }
}
afterAll(() => console.log(`poetry.test.ts timings (s): ${JSON.stringify(timings)}`));

describe('the poetry model at q0f32 (converted now from checkpoint/) against PyTorch', () => {
  it('gives PyTorch\'s tokens, per-position argmax, last-position top-20 logits and 24 greedy ids on every reference prompt', async () => {
    const { cases } = JSON.parse(readFileSync(paths.pytorch, 'utf8')) as { cases: Case[] };
    expect(cases.length).toBeGreaterThan(0);
    const V = model.info.config.vocabSize;
    let maxDelta = 0;
    await timed('reference prompts', async () => {
      for (const c of cases) {
        expect(model.tokenizer.encode(c.prompt), c.prompt).toEqual(c.ids);
        const all = await model.forward.run(c.ids, 0, 'all-logits');
        expect(c.ids.map((_, t) => argmax(all.subarray(t * V, (t + 1) * V))), c.prompt).toEqual(c.argmax_per_position);
        const last = all.subarray((c.ids.length - 1) * V);
        for (const [id, logit] of c.last_position_top20) maxDelta = Math.max(maxDelta, Math.abs(last[id]! - logit));
        // The last-token head that generation uses after a prompt gives the same whole logit vector
        // (it once wrote a batch's rows into one row, leaving garbage in the vocabulary's last logit).
        expect(maxAbsDiff(await model.forward.run(c.ids, 0, 'logits'), last), c.prompt).toBeLessThan(1e-4);
        // Both passes left the prompt in the KV cache: decoding goes on from there.
        const result = await generateGreedy(model.forward, c.ids, { maxTokens: c.greedy_continuation_ids.length, cachedTokens: c.ids.length });
        expect(result.ids, c.prompt).toEqual(c.greedy_continuation_ids);
      }
    });
    console.log(`poetry q0f32: max |Δ logit| over the last position's top-20, ${cases.length} prompts: ${maxDelta.toExponential(2)}`);
    expect(maxDelta).toBeLessThan(1e-3);
  }, SLOW);

  it('chooses as PyTorch did on the first quiz question, with the same letter logits (C-Eval 5-shot harness)', async () => {
    const pytorch = JSON.parse(readFileSync(paths.quizPytorch, 'utf8')) as PytorchQuiz;
    // The first question of the subject with the shortest prompts (260 tokens, ~1 min here): the
    // harness's reuse of cached shots between questions is checked in eval.test.ts; all 911 by the script.
    const quiz = await timed('quiz', () => quizAgreement(model, paths.quiz, pytorch, 1, ['tang_poetry_author']));
    console.log(`poetry q0f32 quiz: ${quiz.agreement.same}/${quiz.agreement.total} choices as PyTorch, max |Δ letter logit| ${quiz.max_letter_logit_delta.toExponential(2)}`);
    expect(quiz.agreement.total).toBe(1);
    expect(quiz.agreement.disagreements).toEqual([]);
    expect(quiz.max_letter_logit_delta).toBeLessThan(1e-3);
  }, SLOW);
});

describe('the committed artifacts', () => {
  it.each(['q4f32_1', 'q4f16_1'] as Quantization[])('%s is byte for byte what the converter writes today from checkpoint/', async (quant) => {
    const fresh = join(dir.path, quant);
    await timed(`convert ${quant}`, () => convertHf(paths.checkpoint, quant, fresh));
    const committed = join(paths.dir, quant);
    expect(readdirSync(committed).sort()).toEqual(readdirSync(fresh).sort());
    for (const file of readdirSync(fresh)) expect(readFileSync(join(committed, file)).equals(readFileSync(join(fresh, file))), `${quant}/${file}`).toBe(true);
  });
});

/**
 * The issue's floors on deterministic samples: title→author ≥ 90 % and the q4 artifacts within 2
 * points of q0f32 (one title, on a sample where one title is more than 2 points); recitation ≥ 80 %.
 * Samples of every 30th title (11) and every 40th poem (8): what fits the budget on SwiftShader; the
 * script measures all of them.
 */
describe('accuracy floors on samples', () => {
  const tang300 = loadPoems(paths.tang300);
  const titles = everyNth(singleAuthorTitles(tang300), 30);
  const titlesRight: Record<string, number> = {};

  /** Titles named correctly (a count: a sample's 2 points are compared in titles, not floating-point percentages). */
  async function titlesCorrect(m: NodeModel, quant: string): Promise<number> {
    const rows = await timed(`titles ${quant}`, () => titleAuthor(m, titles));
    const correct = rows.filter((r) => r.ok).length;
    console.log(`poetry ${quant} title→author: ${correct}/${rows.length}; wrong: ${JSON.stringify(rows.filter((r) => !r.ok).map((r) => `${r.title}: ${r.output}`))}`);
    return (titlesRight[quant] = correct);
  }

  it('q0f32: the seed prompt answers 李商隐, title→author ≥ 90 % and recitation ≥ 80 %', async () => {
    expect(await new LineDecoder(model).line(SEED_PROMPT, 8)).toMatch(/^李商隐/);
    expect(await titlesCorrect(model, 'q0f32')).toBeGreaterThanOrEqual(0.9 * titles.length);
    const poems = everyNth(tang300, 40);
    const rows = await timed('recitation q0f32', () => recitation(model, tang300, poems));
    const correct = rows.filter((r) => r.firstLine).length;
    console.log(`poetry q0f32 recitation: ${correct}/${rows.length}`);
    expect(correct).toBeGreaterThanOrEqual(0.8 * rows.length);
  }, SLOW);

  it.each(['q4f32_1', 'q4f16_1'])('committed %s: the seed prompt answers 李商隐 and title→author is within 2 points of q0f32', async (quant) => {
    const m = await loadNodeModel(join(paths.dir, quant), LAZY_FAST);
    try {
      expect(await new LineDecoder(m).line(SEED_PROMPT, 8)).toMatch(/^李商隐/);
      const correct = await titlesCorrect(m, quant);
      expect(correct).toBeGreaterThanOrEqual(0.9 * titles.length);
      expect(titlesRight['q0f32'], 'q0f32 ran first').toBeDefined();
      // 2 points of 11 titles is less than one title: on this sample the rule allows one title's difference.
      expect(Math.abs(correct - titlesRight['q0f32']!)).toBeLessThanOrEqual(Math.max(1, Math.floor(0.02 * titles.length)));
    } finally {
      m.dispose();
    }
  }, SLOW);
});
