/**
 * The poetry model's figures on our engine (models/poetry/README.md), with the definitions of
 * models/poetry/recipe/evaluate.py: seed prompt, title→author, recitation, held-out perplexity, and the
 * quiz (C-Eval 5-shot) with its agreement with PyTorch (reference/quiz-pytorch.json), for q0f32
 * (converted from checkpoint/ into a temporary folder by our converter), q4f32_1 and q4f16_1.
 *
 *   npx tsx packages/cli/scripts/poetry-metrics.ts [--quant q0f32,q4f32_1,q4f16_1]
 *       [--sections seed,title,recitation,heldout,quiz] [--title-every 1] [--recite-every 1]
 *       [--heldout-every 1] [--quiz-per-subject N] [--out models/poetry/reference/engine-metrics.json]
 *
 * By default everything runs on every item. The `--*-every N` options take every N-th item (the first,
 * the (N+1)-th, …) and --quiz-per-subject the first N val questions of each subject, for machines where
 * the full run takes too long (on SwiftShader each token costs a few hundred ms). Results are merged
 * into --out per quantization and section, each with the sample it ran on, so a run in pieces ends in
 * one file that says exactly what was measured. Prints the JSON of this run.
 */
import { register } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

// The engine imports WGSL kernels as `?raw` text (as Vite does): the CLI's loader hook, before any engine module.
register('../src/wgsl-loader.mjs', import.meta.url);
const m = await import('../src/poetry-metrics.js');
const { convertHf } = await import('../src/convert.js');
const { loadNodeModel } = await import('../src/runtime.js');
const { tempDir } = await import('../../sdk/test/helpers.js');
const { jsonObjectWith, writeOutputFile } = await import('../src/output-file.js');

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const paths = m.poetryPaths(ROOT);
const { values } = parseArgs({
  options: {
    quant: { type: 'string', default: 'q0f32,q4f32_1,q4f16_1' },
    sections: { type: 'string', default: 'seed,title,recitation,heldout,quiz' },
    'title-every': { type: 'string', default: '1' },
    'recite-every': { type: 'string', default: '1' },
    'heldout-every': { type: 'string', default: '1' },
    'quiz-per-subject': { type: 'string' },
    out: { type: 'string', default: paths.engineMetrics },
  },
});
const sections = new Set(values.sections.split(','));
const every = (name: 'title-every' | 'recite-every' | 'heldout-every') => Math.max(1, Number(values[name]));
const quizPerSubject = values['quiz-per-subject'] ? Number(values['quiz-per-subject']) : Infinity;
const sample = (n: number, of: number, how: string) => ({ items: n, of, how });

const tang300 = m.loadPoems(paths.tang300);
const heldout = m.loadPoems(paths.heldout);
const pytorch = JSON.parse(readFileSync(paths.metrics, 'utf8')) as import('../src/poetry-metrics.js').PytorchMetrics;
const quizPytorch = JSON.parse(readFileSync(paths.quizPytorch, 'utf8')) as import('../src/poetry-metrics.js').PytorchQuiz;
const pct = (a: number, b: number) => Math.round((1000 * a) / b) / 10;

const tmp = tempDir('webchuan-poetry-');
const results: Record<string, Record<string, unknown>> = {};
try {
  for (const quant of values.quant.split(',')) {
    let dir = join(paths.dir, quant);
    if (quant === 'q0f32') {
      dir = join(tmp.path, 'q0f32');
      await convertHf(paths.checkpoint, 'q0f32', dir);
    }
    const model = await loadNodeModel(dir);
    const r: Record<string, unknown> = (results[quant] = {});
    const timed = async <T>(name: string, f: () => Promise<T>) => {
      if (!sections.has(name)) return;
      const t0 = performance.now();
      const value = await f();
      r[name] = { ...value, seconds: Math.round((performance.now() - t0) / 100) / 10 };
      console.error(`${quant} ${name}: ${JSON.stringify(r[name]).slice(0, 300)}`);
    };
    try {
      await timed('seed', async () => {
        const line = await new m.LineDecoder(model).line(m.SEED_PROMPT, 8);
        return { prompt: m.SEED_PROMPT, first_line: line, ok: line.startsWith('李商隐') };
      });
      await timed('title', async () => {
        const all = m.singleAuthorTitles(tang300);
        const titles = m.everyNth(all, every('title-every'));
        const rows = await m.titleAuthor(model, titles);
        const correct = rows.filter((x) => x.ok).length;
        const pytorchCorrect = titles.filter((t) => m.pytorchTitleOk(pytorch, t.title)).length;
        return {
          sample: sample(titles.length, all.length, `every ${every('title-every')}th title with one author`),
          correct, total: rows.length, accuracy_pct: pct(correct, rows.length),
          pytorch_correct_same_items: pytorchCorrect,
          same_verdict_as_pytorch: rows.filter((x) => x.ok === m.pytorchTitleOk(pytorch, x.title)).length,
          wrong: rows.filter((x) => !x.ok).map((x) => `${x.title}: ${x.output} (not ${x.author})`),
        };
      });
      await timed('recitation', async () => {
        const poems = m.everyNth(tang300, every('recite-every'));
        const rows = await m.recitation(model, tang300, poems);
        const fl = rows.filter((x) => x.firstLine).length;
        const fc = rows.filter((x) => x.firstCouplet).length;
        return {
          sample: sample(poems.length, tang300.length, `every ${every('recite-every')}th poem of tang300.json`),
          correct: fl, total: rows.length, accuracy_pct: pct(fl, rows.length),
          first_couplet_correct: fc, first_couplet_pct: pct(fc, rows.length),
          pytorch_correct_same_items: poems.filter((p) => m.pytorchRecitationOk(pytorch, p)).length,
          wrong: rows.filter((x) => !x.firstLine).map((x) => `${x.title}->${x.author}: ${x.output}`),
        };
      });
      await timed('heldout', async () => {
        const poems = m.everyNth(heldout, every('heldout-every'));
        return { sample: sample(poems.length, heldout.length, `every ${every('heldout-every')}th poem of heldout.json`), ...(await m.heldoutPerplexity(model, poems)) };
      });
      await timed('quiz', async () => {
        const q = await m.quizAgreement(model, paths.quiz, quizPytorch, quizPerSubject);
        return { sample: { questions: q.questions, of: 911, how: Number.isFinite(quizPerSubject) ? `first ${quizPerSubject} val questions of each subject` : 'all val questions' }, ...q };
      });
    } finally {
      model.dispose();
    }
  }
} finally {
  tmp.remove();
}

process.stdout.write(`${JSON.stringify(results, null, 1)}\n`);
// Merge into --out per quantization and section: a run in pieces ends in one file.
const previous = existsSync(values.out) ? (JSON.parse(readFileSync(values.out, 'utf8')) as { engine: Record<string, Record<string, unknown>> }) : { engine: {} };
for (const [quant, r] of Object.entries(results)) previous.engine[quant] = { ...previous.engine[quant], ...r };
const file = {
  note: 'The poetry model on webchuan\'s engine (WebGPU through Dawn), definitions of models/poetry/recipe/evaluate.py; '
    + 'each section says the sample it ran on. Made by packages/cli/scripts/poetry-metrics.ts; PyTorch\'s figures are in metrics.json.',
  engine: previous.engine,
};
// The rules of every command's output file (output-file.ts): an earlier metrics file of ours is merged and replaced, nothing else.
writeOutputFile(values.out, `${JSON.stringify(file, null, 1)}\n`, { inputs: [paths.checkpoint], isOurs: (t) => jsonObjectWith(t, ['note', 'engine']), ours: 'an engine-metrics file of this script' });
console.error(`wrote ${values.out}`);
