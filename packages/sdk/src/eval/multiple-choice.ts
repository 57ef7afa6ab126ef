/**
 * Multiple-choice evaluation as the Baichuan-7B README's C-Eval and MMLU tables were made: k-shot
 * prompts from the dev split, and the answer is whichever of A/B/C/D has the highest next-token logit
 * after `答案：` (C-Eval) or `Answer:` (MMLU). The same code runs in the CLI (logits read straight off
 * the GPU) and in a tab (through the public SDK), so both score a model the same way.
 */
import Papa from 'papaparse';

export const LETTERS = ['A', 'B', 'C', 'D'] as const;
export type Letter = (typeof LETTERS)[number];

/** One question in C-Eval's CSV layout (`id,question,A,B,C,D,answer`; MMLU's has no id). */
export interface Question {
  id?: string;
  question: string;
  A: string;
  B: string;
  C: string;
  D: string;
  /** Absent in test splits, which publish no answers. */
  answer?: Letter;
}

export interface Subject {
  /** File name stem, e.g. `computer_network` or `tang_poetry_author`. */
  name: string;
  /** What the prompt calls the subject: C-Eval's Chinese name (`计算机网络`), MMLU's words (`computer network`). */
  title: string;
  /** The dev split: the shots. */
  dev: Question[];
  /** The questions to score (the val split for C-Eval, test for MMLU). */
  questions: Question[];
}

/** C-Eval's Chinese instructions and `答案：`, or MMLU's English and `Answer:`. */
export type Protocol = 'ceval' | 'mmlu';

const FORMAT: Record<Protocol, { header: (title: string) => string; answer: string; between: string }> = {
  ceval: { header: (t) => `以下是中国关于${t}考试的单项选择题，请选出其中的正确答案。\n\n`, answer: '答案：', between: '' },
  mmlu: { header: (t) => `The following are multiple choice questions (with answers) about ${t}.\n\n`, answer: 'Answer:', between: ' ' },
};

function block(protocol: Protocol, q: Question, withAnswer: boolean): string {
  const f = FORMAT[protocol];
  const options = LETTERS.map((l) => `${l}. ${q[l]}`).join('\n');
  return `${q.question}\n${options}\n${f.answer}${withAnswer ? `${f.between}${q.answer}\n\n` : ''}`;
}

/** The prompt for `q` with `shots` worked examples before it. */
export function buildPrompt(protocol: Protocol, subject: Pick<Subject, 'title'>, shots: readonly Question[], q: Question): string {
  return FORMAT[protocol].header(subject.title) + shots.map((s) => block(protocol, s, true)).join('') + block(protocol, q, false);
}

/**
 * The token of each letter as it follows the answer marker in a prompt: the last id of
 * encode(`答案：A`) (or `Answer: A`), so in-context tokenization decides, not the letter alone.
 */
export async function letterTokens(protocol: Protocol, encode: (text: string) => Promise<number[]> | number[]): Promise<Record<Letter, number>> {
  const f = FORMAT[protocol];
  const ids = {} as Record<Letter, number>;
  for (const l of LETTERS) {
    const encoded = await encode(`${f.answer}${f.between}${l}`);
    const marker = await encode(f.answer);
    if (encoded.length !== marker.length + 1) {
      throw new Error(`the tokenizer does not make "${f.between}${l}" one token after "${f.answer}" (${JSON.stringify(encoded)}), so this protocol cannot score it`);
    }
    ids[l] = encoded.at(-1)!;
  }
  if (new Set(Object.values(ids)).size !== LETTERS.length) throw new Error('two letters share a token');
  return ids;
}

/** How a model answers: the letter whose token scores highest after `prompt`. */
export interface Chooser {
  /** Tokens of `text` (to fit prompts into the context window). */
  countTokens(text: string): Promise<number>;
  /** The model's choice, and each letter's logit where the engine can read them. */
  choose(prompt: string, letters: Record<Letter, number>): Promise<{ choice: Letter; logits?: Record<Letter, number> }>;
}

export interface QuestionResult {
  id: string;
  choice: Letter;
  answer?: Letter;
  correct?: boolean;
  logits?: Record<Letter, number>;
  /** Shots that fit the context window with this question (k, unless the prompt was too long). */
  shots: number;
}

export interface SubjectResult {
  name: string;
  title: string;
  correct: number;
  /** Questions with a published answer. */
  scored: number;
  accuracy: number;
  questions: QuestionResult[];
}

export interface EvalSummary {
  protocol: Protocol;
  shots: number;
  subjects: SubjectResult[];
  /** Mean of the subjects' accuracies (C-Eval's average). */
  macroAccuracy: number;
  /** Correct answers over all scored questions (MMLU's weighted average). */
  microAccuracy: number;
  questions: number;
  seconds: number;
}

export interface EvalOptions {
  protocol: Protocol;
  /** Worked examples per prompt from the dev split (5, as in the README's tables). */
  shots?: number;
  /** Longest prompt in tokens: shots are dropped from the front until the prompt fits. */
  maxPromptTokens: number;
  /**
   * Questions scored per subject: the first `limit` of each (all when unset). A quick look at a
   * model, or one small enough for a software GPU; the same limit gives the same questions anywhere.
   */
  limit?: number;
  /** Called after each question with (questions done, questions in all, the subject). */
  onProgress?: (done: number, total: number, subject: string) => void;
  signal?: AbortSignal;
}

export async function evaluate(subjects: readonly Subject[], chooser: Chooser, letters: Record<Letter, number>, options: EvalOptions): Promise<EvalSummary> {
  const k = options.shots ?? 5;
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit >= 0)) throw new Error(`limit must be a non-negative integer, got ${options.limit}`);
  const scoredQuestions = (s: Subject) => (options.limit === undefined ? s.questions : s.questions.slice(0, options.limit));
  const total = subjects.reduce((n, s) => n + scoredQuestions(s).length, 0);
  const t0 = performance.now();
  let done = 0;
  const results: SubjectResult[] = [];
  for (const subject of subjects) {
    const questions: QuestionResult[] = [];
    for (const [index, q] of scoredQuestions(subject).entries()) {
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
      let shots = subject.dev.slice(0, k);
      let prompt = buildPrompt(options.protocol, subject, shots, q);
      while (shots.length > 0 && (await chooser.countTokens(prompt)) > options.maxPromptTokens) {
        shots = shots.slice(1);
        prompt = buildPrompt(options.protocol, subject, shots, q);
      }
      const { choice, logits } = await chooser.choose(prompt, letters);
      questions.push({ id: q.id ?? String(index), choice, answer: q.answer, correct: q.answer === undefined ? undefined : choice === q.answer, logits, shots: shots.length });
      options.onProgress?.(++done, total, subject.name);
    }
    const scored = questions.filter((r) => r.correct !== undefined);
    const correct = scored.filter((r) => r.correct).length;
    results.push({ name: subject.name, title: subject.title, correct, scored: scored.length, accuracy: scored.length ? correct / scored.length : 0, questions });
  }
  const scoredSubjects = results.filter((s) => s.scored > 0);
  const allScored = results.reduce((n, s) => n + s.scored, 0);
  return {
    protocol: options.protocol,
    shots: k,
    subjects: results,
    macroAccuracy: scoredSubjects.length ? scoredSubjects.reduce((n, s) => n + s.accuracy, 0) / scoredSubjects.length : 0,
    microAccuracy: allScored ? results.reduce((n, s) => n + s.correct, 0) / allScored : 0,
    questions: total,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The choice among the letters from their logits: the highest, the first letter among equals. */
export function argmaxLetter(logits: Record<Letter, number>): Letter {
  return LETTERS.reduce((best, l) => (logits[l] > logits[best] ? l : best), LETTERS[0] as Letter);
}

/**
 * Rows of a C-Eval or MMLU CSV file, already split into fields (by a CSV parser), into questions.
 * C-Eval files start with the header `id,question,A,B,C,D,answer`; MMLU files have no header and no id.
 */
export function questionsFromRows(rows: readonly string[][], file = 'csv'): Question[] {
  if (rows.length === 0) return [];
  const header = rows[0]!.map((c) => c.trim());
  const named = header.includes('question') && header.includes('A');
  const col = (name: string, mmluIndex: number) => (named ? header.indexOf(name) : mmluIndex);
  const at = { id: col('id', -1), question: col('question', 0), A: col('A', 1), B: col('B', 2), C: col('C', 3), D: col('D', 4), answer: col('answer', 5) };
  return rows.slice(named ? 1 : 0).filter((r) => r.some((c) => c.trim() !== '')).map((r, i) => {
    // A row short of fields (or with extra ones) was split wrongly, or is broken: refused, never read with options missing.
    if (named ? r.length !== header.length : r.length < 5 || r.length > 6) {
      throw new Error(`${file}: row ${i + 1} has ${r.length} fields, ${named ? `the header names ${header.length}` : 'MMLU rows have 5 or 6 (question, A–D, answer)'}`);
    }
    const field = (index: number) => (index >= 0 ? (r[index] ?? '') : '');
    const answer = field(at.answer).trim();
    if (answer !== '' && !(LETTERS as readonly string[]).includes(answer)) throw new Error(`${file}: row ${i + 1}: answer "${answer}" is not A, B, C or D`);
    if (!field(at.question)) throw new Error(`${file}: row ${i + 1} has no question`);
    return {
      id: at.id >= 0 ? field(at.id) : undefined,
      question: field(at.question),
      A: field(at.A),
      B: field(at.B),
      C: field(at.C),
      D: field(at.D),
      answer: answer === '' ? undefined : (answer as Letter),
    };
  });
}

/**
 * Splits CSV text into rows of fields with papaparse — in the tab (the demo's Evaluate panel, through
 * `webchuan/eval`) and in the CLI (`webchuan eval`) alike, so both read every file the same way: the
 * same questions, so the same limit scores the same ones. Its settings are the CLI's: the delimiter
 * detected (`,` as C-Eval and MMLU publish, `;` or a tab from a spreadsheet), blank lines skipped, a
 * byte-order mark dropped. A quote that does not close, or text after a closing quote, is an error
 * naming the row, never a guess.
 */
export function parseCsv(text: string): string[][] {
  const parsed = Papa.parse<string[]>(text, { skipEmptyLines: true });
  // 'Delimiter' is papaparse's notice that it could not tell the delimiter (a one-column file): it uses ','.
  const fatal = parsed.errors.find((e) => e.type !== 'Delimiter');
  if (fatal) throw new Error(`row ${(fatal.row ?? 0) + 1}: ${fatal.message}`);
  return parsed.data;
}
