/**
 * `webchuan eval`: a C-Eval / MMLU-style multiple-choice evaluation of an artifact on this machine's
 * GPU, with the protocol of the Baichuan-7B README's tables (packages/sdk/src/eval/multiple-choice.ts).
 * Datasets are read in their published layout: `<root>/dev/<subject>_dev.csv` (the shots) and
 * `<root>/<split>/<subject>_<split>.csv`, plus C-Eval's `subject_mapping.json` for subject names.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { argmaxLetter, evaluate, LETTERS, letterTokens, parseCsv, questionsFromRows, type Chooser, type EvalSummary, type Letter, type Protocol, type Subject } from '../../sdk/src/eval/multiple-choice.js';
import { readRegularTextSync } from './input-file.js';
import type { NodeModel } from './runtime.js';

export interface DatasetOptions {
  protocol: Protocol;
  /** The split scored: `val` for C-Eval (its test answers are not published), `test` for MMLU. */
  split: string;
  /** Subjects to load (default: every subject with a dev file). */
  subjects?: string[];
}

/** A CSV file's rows, parsed exactly as the tab parses the same file (the SDK's parseCsv, papaparse). */
function readCsv(file: string): string[][] {
  try {
    return parseCsv(readRegularTextSync(file));
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`);
  }
}

/** The subjects of a dataset directory, dev split (shots) and the scored split. */
export function loadDataset(root: string, options: DatasetOptions): Subject[] {
  const devDir = join(root, 'dev');
  if (!existsSync(devDir)) throw new Error(`${root}: no dev/ folder (expected <root>/dev/<subject>_dev.csv, as C-Eval and MMLU publish them)`);
  const available = readdirSync(devDir).filter((f) => f.endsWith('_dev.csv')).map((f) => f.slice(0, -'_dev.csv'.length)).sort();
  const names = options.subjects ?? available;
  const unknown = names.filter((n) => !available.includes(n));
  if (unknown.length) throw new Error(`${root}: no dev file for ${unknown.join(', ')} (subjects here: ${available.join(', ')})`);
  const mappingFile = join(root, 'subject_mapping.json');
  const mapping = existsSync(mappingFile) ? (JSON.parse(readRegularTextSync(mappingFile)) as Record<string, string[]>) : {};
  return names.map((name) => {
    const file = join(root, options.split, `${name}_${options.split}.csv`);
    if (!existsSync(file)) throw new Error(`${file} is missing`);
    // C-Eval's prompts name the subject in Chinese (subject_mapping.json: [English, 中文, category]); MMLU's in words.
    const title = options.protocol === 'ceval' ? (mapping[name]?.[1] ?? name) : name.replaceAll('_', ' ');
    return { name, title, dev: questionsFromRows(readCsv(join(devDir, `${name}_dev.csv`)), `${name}_dev.csv`), questions: questionsFromRows(readCsv(file), file) };
  });
}

/**
 * Reads the four letters' logits straight off the GPU. Consecutive prompts of a subject share their
 * shots, so the KV cache keeps the common prefix and only the rest is run.
 */
export function nodeChooser(model: NodeModel): Chooser {
  const prefix = model.info.config.promptPrefixTokenIds;
  const tokens = (text: string) => [...prefix, ...model.tokenizer.encode(text)];
  let cached: number[] = [];
  return {
    countTokens: async (text) => tokens(text).length,
    async choose(prompt, letters) {
      const ids = tokens(prompt);
      let common = 0;
      while (common < cached.length && common < ids.length - 1 && cached[common] === ids[common]) common++;
      const logits = await model.forward.run(ids.slice(common), common, 'logits');
      cached = ids;
      const scores = Object.fromEntries(LETTERS.map((l) => [l, logits[letters[l]]!])) as Record<Letter, number>;
      return { choice: argmaxLetter(scores), logits: scores };
    },
  };
}

export async function evaluateNode(model: NodeModel, subjects: Subject[], options: { protocol: Protocol; shots: number; limit?: number; onProgress?: (done: number, total: number) => void }): Promise<EvalSummary> {
  const letters = await letterTokens(options.protocol, (text) => model.tokenizer.encode(text));
  return evaluate(subjects, nodeChooser(model), letters, {
    protocol: options.protocol,
    shots: options.shots,
    limit: options.limit,
    maxPromptTokens: model.forward.contextWindow - 1,
    onProgress: options.onProgress,
  });
}

/** Per-subject and average accuracy as a table for a person. */
export function formatSummary(summary: EvalSummary): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const width = Math.max(7, ...summary.subjects.map((s) => s.name.length));
  const lines = summary.subjects.map((s) => `${s.name.padEnd(width)}  ${pct(s.accuracy).padStart(6)}  (${s.correct}/${s.scored})`);
  lines.push(`${'average'.padEnd(width)}  ${pct(summary.macroAccuracy).padStart(6)}  (mean of subjects; ${pct(summary.microAccuracy)} of all ${summary.questions} questions)`);
  return `${lines.join('\n')}\n`;
}
