/**
 * The poetry model's measurements (models/poetry) on our engine, with exactly the definitions of
 * models/poetry/recipe/evaluate.py, so that engine and PyTorch figures can be compared item by item.
 * Used by packages/cli/test/poetry.test.ts (on subsets) and packages/cli/scripts/poetry-metrics.ts.
 *
 * Decoding reuses the KV cache: the PyTorch recipe re-runs the whole sequence for every token, which is
 * the same computation; here each prompt's positions already in the cache (a shared few-shot line, the
 * previous quiz question's shots) are skipped and each new token is one decode step.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateGreedy } from '../../sdk/src/engine/generate.js';
import { logSoftmaxAt } from '../../sdk/src/model/arrays.js';
import type { EvalSummary } from '../../sdk/src/eval/multiple-choice.js';
import { evaluateNode, loadDataset } from './eval.js';
import type { NodeModel } from './runtime.js';

export const SEED_PROMPT = '登鹳雀楼->王之涣\n夜雨寄北->';

export interface Poem {
  title: string;
  author: string;
  paragraphs: string[];
}

export function loadPoems(file: string): Poem[] {
  return JSON.parse(readFileSync(file, 'utf8')) as Poem[];
}

/** `标题->作者\n`, the seed prompt's form (corpus.header). */
export const header = (p: Poem): string => `${p.title}->${p.author}\n`;

/** The poem's text up to and including the first ，。？！；： (corpus.first_line). */
export function firstLine(p: Poem): string {
  const text = p.paragraphs.join('');
  const at = [...text].findIndex((ch) => '，。？！；：'.includes(ch));
  return at < 0 ? text : [...text].slice(0, at + 1).join('');
}

/** Every 唐诗三百首 title with one author, in first-appearance order (as evaluate.title_author's dict). */
export function singleAuthorTitles(tang300: readonly Poem[]): { title: string; author: string }[] {
  const authors = new Map<string, Set<string>>();
  for (const p of tang300) {
    if (!authors.has(p.title)) authors.set(p.title, new Set());
    authors.get(p.title)!.add(p.author);
  }
  return [...authors].filter(([, a]) => a.size === 1).map(([title, a]) => ({ title, author: [...a][0]! }));
}

/** Every `every`-th item, starting with the first: the deterministic subsets of tests and quick runs. */
export const everyNth = <T>(items: readonly T[], every: number): T[] => items.filter((_, i) => i % every === 0);

/**
 * Greedy decoding until a newline or </s> (neither emitted), at most `maxTokens`, keeping track of
 * the tokens in the KV cache so that the next prompt skips the positions it shares with them.
 */
export class LineDecoder {
  private kv: number[] = [];
  private readonly stops: number[];

  constructor(private readonly model: NodeModel) {
    const newline = model.tokenizer.encode('\n');
    if (newline.length !== 1) throw new Error(`"\\n" is not one token (${JSON.stringify(newline)})`);
    this.stops = [newline[0]!, ...model.info.config.stopTokenIds];
  }

  /** The first line of the greedy continuation (evaluate.decode_line on evaluate.greedy's output). */
  async line(prompt: string, maxTokens: number): Promise<string> {
    const ids = [...this.model.info.config.promptPrefixTokenIds, ...this.model.tokenizer.encode(prompt)];
    let cached = 0;
    while (cached < this.kv.length && cached < ids.length && this.kv[cached] === ids[cached]) cached++;
    const result = await generateGreedy(this.model.forward, ids, { maxTokens, stopTokenIds: this.stops, cachedTokens: cached });
    this.kv = result.kvTokens;
    return this.model.tokenizer.decode(result.ids).split('\n')[0]!;
  }
}

export interface TitleAuthorRow {
  title: string;
  author: string;
  output: string;
  ok: boolean;
}

/** evaluate.title_author: `登鹳雀楼->王之涣\n<title>->` (shot `静夜思->李白\n` for 登鹳雀楼), ≤ 10 tokens. */
export async function titleAuthor(model: NodeModel, titles: readonly { title: string; author: string }[]): Promise<TitleAuthorRow[]> {
  const decoder = new LineDecoder(model);
  const rows: TitleAuthorRow[] = [];
  for (const { title, author } of titles) {
    const shot = title === '登鹳雀楼' ? '静夜思->李白\n' : '登鹳雀楼->王之涣\n';
    const output = await decoder.line(`${shot}${title}->`, 10);
    rows.push({ title, author, output, ok: output === author });
  }
  return rows;
}

export interface RecitationRow {
  title: string;
  author: string;
  output: string;
  firstLine: boolean;
  firstCouplet: boolean;
}

/**
 * evaluate.recitation: `<title>-><author>\n`, ≤ 40 tokens; where title and author name two poems
 * (隋宫, 李商隐) either poem's first line counts, so `all` is the whole anthology, `poems` those run.
 */
export async function recitation(model: NodeModel, all: readonly Poem[], poems: readonly Poem[]): Promise<RecitationRow[]> {
  const decoder = new LineDecoder(model);
  const rows: RecitationRow[] = [];
  for (const p of poems) {
    const output = await decoder.line(header(p), 40);
    const alternatives = all.filter((q) => header(q) === header(p));
    rows.push({
      title: p.title,
      author: p.author,
      output,
      firstLine: alternatives.some((q) => output.startsWith(firstLine(q))),
      firstCouplet: alternatives.some((q) => output === q.paragraphs[0]),
    });
  }
  return rows;
}

export interface Perplexity {
  perplexity: number;
  mean_nll: number;
  tokens: number;
}

/**
 * evaluate.heldout_perplexity: the body (paragraphs each followed by "\n", then </s>) scored (a) after
 * the unscored `标题->作者\n` header, (b) alone, its first token unscored (no BOS). One forward pass per
 * sequence reads every position's logits; log-softmax in float64.
 */
export async function heldoutPerplexity(model: NodeModel, poems: readonly Poem[]): Promise<{ with_header: Perplexity; body_only: Perplexity }> {
  const V = model.info.config.vocabSize;
  const eos = model.info.config.stopTokenIds[0]!;
  const ctx = model.forward.contextWindow;
  const totals = { with_header: { nll: 0, tokens: 0 }, body_only: { nll: 0, tokens: 0 } };
  for (const p of poems) {
    const body = [...model.tokenizer.encode(p.paragraphs.map((line) => `${line}\n`).join('')), eos];
    for (const [key, prefix] of [['with_header', model.tokenizer.encode(header(p))], ['body_only', []]] as const) {
      const ids = [...prefix, ...body].slice(0, ctx);
      const logits = await model.forward.run(ids, 0, 'all-logits');
      const start = Math.max(prefix.length - 1, 0);
      for (let t = start; t < ids.length - 1; t++) totals[key].nll -= logSoftmaxAt(logits.subarray(t * V, (t + 1) * V), ids[t + 1]!);
      totals[key].tokens += ids.length - 1 - start;
    }
  }
  const figure = ({ nll, tokens }: { nll: number; tokens: number }): Perplexity => ({ perplexity: Math.exp(nll / tokens), mean_nll: nll / tokens, tokens });
  return { with_header: figure(totals.with_header), body_only: figure(totals.body_only) };
}

/** One question of reference/quiz-pytorch.json. */
export interface PytorchQuizQuestion {
  id: number;
  logits: [number, number, number, number];
  choice: string;
  answer: string;
}

export interface PytorchQuiz {
  letter_ids: Record<string, number>;
  subjects: Record<string, { questions: PytorchQuizQuestion[] }>;
}

/**
 * The quiz with our harness (`webchuan eval`'s evaluateNode, C-Eval 5-shot) on the first `perSubject`
 * val questions of each subject (all by default; `only` some subjects), and how it agrees with PyTorch question by question.
 */
export async function quizAgreement(model: NodeModel, quizRoot: string, pytorch: PytorchQuiz, perSubject = Infinity, only?: string[]) {
  const subjects = loadDataset(quizRoot, { protocol: 'ceval', split: 'val', subjects: only }).map((s) => ({ ...s, questions: s.questions.slice(0, perSubject) }));
  const summary: EvalSummary = await evaluateNode(model, subjects, { protocol: 'ceval', shots: 5 });
  let same = 0;
  let total = 0;
  let maxLogitDelta = 0;
  const disagreements: string[] = [];
  for (const s of summary.subjects) {
    const reference = new Map(pytorch.subjects[s.name]!.questions.map((q) => [String(q.id), q]));
    for (const q of s.questions) {
      const ref = reference.get(q.id);
      if (!ref) throw new Error(`quiz-pytorch.json has no ${s.name} question ${q.id}`);
      total++;
      if (q.choice === ref.choice) same++;
      else disagreements.push(`${s.name} #${q.id}: ${q.choice} (PyTorch ${ref.choice})`);
      (['A', 'B', 'C', 'D'] as const).forEach((l, i) => (maxLogitDelta = Math.max(maxLogitDelta, Math.abs(q.logits![l] - ref.logits[i]!))));
    }
  }
  return {
    accuracy: summary.macroAccuracy,
    correct: summary.subjects.reduce((n, s) => n + s.correct, 0),
    questions: total,
    agreement: { same, total, disagreements },
    max_letter_logit_delta: maxLogitDelta,
    subjects: Object.fromEntries(summary.subjects.map((s) => [s.name, { correct: s.correct, total: s.scored, accuracy: s.accuracy }])),
    seconds: summary.seconds,
  };
}

/** The committed PyTorch figures (reference/metrics.json), for item-by-item comparison on subsets. */
export interface PytorchMetrics {
  title_author: { correct: number; total: number; wrong: string[] };
  recitation: { correct: number; total: number; first_couplet_correct: number; wrong: string[] };
  heldout: Record<'with_header' | 'body_only', Perplexity>;
}

/** Whether PyTorch named `title`'s author correctly (metrics.json lists the titles it got wrong). */
export const pytorchTitleOk = (m: PytorchMetrics, title: string): boolean => !m.title_author.wrong.some((w) => w.startsWith(`${title}: `));

/** Whether PyTorch recited `p`'s first line (metrics.json lists the poems it got wrong). */
export const pytorchRecitationOk = (m: PytorchMetrics, p: Poem): boolean => !m.recitation.wrong.some((w) => w.startsWith(`${p.title}->${p.author}: `));

export const poetryPaths = (root: string) => {
  const dir = join(root, 'models/poetry');
  return {
    dir,
    checkpoint: join(dir, 'checkpoint'),
    tang300: join(dir, 'data/tang300.json'),
    heldout: join(dir, 'data/heldout.json'),
    quiz: join(dir, 'data/quiz'),
    pytorch: join(dir, 'reference/pytorch.json'),
    quizPytorch: join(dir, 'reference/quiz-pytorch.json'),
    metrics: join(dir, 'reference/metrics.json'),
    engineMetrics: join(dir, 'reference/engine-metrics.json'),
  };
};
