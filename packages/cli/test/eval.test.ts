/**
 * The multiple-choice evaluation harness: the protocol's prompt and letter tokens, the CSV layouts of
 * C-Eval and MMLU read identically in a tab and in the CLI, and `webchuan eval` end to end — whose choices, made with the KV cache reused across
 * questions, must be those of a full forward pass on the CPU reference.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { argmaxLetter, buildPrompt, evaluate, LETTERS, letterTokens, parseCsv, questionsFromRows, type EvalSummary, type Letter, type Question } from '../../sdk/src/eval/multiple-choice.js';
import { openArtifact, readTensors } from '../../sdk/src/model/artifact.js';
import { mulberry32 } from '../../sdk/src/model/random.js';
import { ReferenceModel } from '../../sdk/src/reference/model.js';
import { collectReferenceWeights } from '../../sdk/src/reference/weights.js';
import { REPO_ROOT, tempDir } from '../../sdk/test/helpers.js';
import { directorySource } from '../src/fs-source.js';
import { loadDataset } from '../src/eval.js';
import { tinyBaichuanConfig, writeRandomModel } from '../src/random-model.js';
import { loadNodeTokenizer } from '../src/runtime.js';
import { tinyTokenizerPieces } from '../src/tiny-tokenizer.js';

const dir = tempDir();
afterAll(() => dir.remove());

const q = (question: string, answer: Letter): Question => ({ question, A: '甲', B: '乙', C: '丙', D: '丁', answer });

describe('the protocol', () => {
  it('builds C-Eval prompts as its few-shot evaluation does: instruction, worked shots, then 答案：', () => {
    const prompt = buildPrompt('ceval', { title: '唐诗' }, [q('一？', 'B')], q('二？', 'C'));
    expect(prompt).toBe('以下是中国关于唐诗考试的单项选择题，请选出其中的正确答案。\n\n一？\nA. 甲\nB. 乙\nC. 丙\nD. 丁\n答案：B\n\n二？\nA. 甲\nB. 乙\nC. 丙\nD. 丁\n答案：');
    const mmlu = buildPrompt('mmlu', { title: 'world history' }, [], { question: 'Q?', A: 'a', B: 'b', C: 'c', D: 'd' });
    expect(mmlu).toBe('The following are multiple choice questions (with answers) about world history.\n\nQ?\nA. a\nB. b\nC. c\nD. d\nAnswer:');
  });

  it('reads C-Eval rows (with a header and ids) and MMLU rows (neither), and refuses an answer that is not a letter', () => {
    const ceval = questionsFromRows([['id', 'question', 'A', 'B', 'C', 'D', 'answer'], ['7', '问？', '1', '2', '3', '4', 'D']]);
    expect(ceval).toEqual([{ id: '7', question: '问？', A: '1', B: '2', C: '3', D: '4', answer: 'D' }]);
    const mmlu = questionsFromRows([['What?', 'w', 'x', 'y', 'z', 'A'], ['Test row', 'w', 'x', 'y', 'z', '']]);
    expect(mmlu.map((m) => [m.question, m.answer, m.id])).toEqual([['What?', 'A', undefined], ['Test row', undefined, undefined]]);
    expect(() => questionsFromRows([['id', 'question', 'A', 'B', 'C', 'D', 'answer'], ['1', 'q', 'a', 'b', 'c', 'd', 'E']], 'x.csv')).toThrow(/x\.csv: row 1: answer "E"/);
  });

  it('drops whole shots from the front until a prompt fits, and averages per subject and over questions', async () => {
    const dev = [q('1', 'A'), q('2', 'B'), q('3', 'C')];
    const subjects = [
      { name: 's', title: 'S', dev, questions: [q('short', 'A'), q('a much longer question'.repeat(3), 'B')] },
      { name: 't', title: 'T', dev, questions: [q('x', 'A')] },
    ];
    const prompts: string[] = [];
    // A chooser that counts characters as tokens and always answers A: the harness's bookkeeping alone.
    const chooser = { countTokens: async (t: string) => t.length, choose: async (p: string) => (prompts.push(p), { choice: 'A' as Letter }) };
    const limit = buildPrompt('ceval', subjects[0]!, dev.slice(1), subjects[0]!.questions[0]!).length;
    const summary = await evaluate(subjects, chooser, { A: 1, B: 2, C: 3, D: 4 }, { protocol: 'ceval', shots: 3, maxPromptTokens: limit });
    expect(summary.subjects.map((s) => s.questions.map((r) => r.shots))).toEqual([[2, 0], [2]]);
    expect(prompts[0]).toBe(buildPrompt('ceval', subjects[0]!, dev.slice(1), subjects[0]!.questions[0]!)); // shot 1 went first
    expect(summary.subjects.map((s) => s.accuracy)).toEqual([0.5, 1]);
    expect(summary.macroAccuracy).toBe(0.75);
    expect(summary.microAccuracy).toBeCloseTo(2 / 3, 10);
  });

  it('scores only the first `limit` questions of each subject when given one', async () => {
    const dev = [q('1', 'A')];
    const subjects = [
      { name: 's', title: 'S', dev, questions: [q('a', 'A'), q('b', 'B'), q('c', 'A')] },
      { name: 't', title: 'T', dev, questions: [q('x', 'A')] },
    ];
    const chooser = { countTokens: async (t: string) => t.length, choose: async () => ({ choice: 'A' as Letter }) };
    const progress: number[] = [];
    const summary = await evaluate(subjects, chooser, { A: 1, B: 2, C: 3, D: 4 }, { protocol: 'ceval', maxPromptTokens: 1e6, limit: 2, onProgress: (_, total) => progress.push(total) });
    expect(summary.subjects.map((s) => s.questions.map((r) => r.id))).toEqual([['0', '1'], ['0']]);
    expect(summary.questions).toBe(3);
    expect(new Set(progress)).toEqual(new Set([3]));
    expect(summary.subjects.map((s) => s.accuracy)).toEqual([0.5, 1]);
    await expect(evaluate(subjects, chooser, { A: 1, B: 2, C: 3, D: 4 }, { protocol: 'ceval', maxPromptTokens: 1e6, limit: -1 })).rejects.toThrow(/limit/);
  });

  it('reads ten kinds of CSV input identically in the tab (webchuan/eval, as the demo imports it) and in the CLI (loadDataset)', async () => {
    // The tab's path is the built package's entry, exactly what the demo's Evaluate panel imports.
    const tab = await import('webchuan/eval');
    const header = 'id,question,A,B,C,D,answer';
    const row = (id: number, question: string, answer = 'B') => `${id},${question},甲,乙,丙,丁,${answer}`;
    const inputs: Record<string, { text: string; questions?: string[] }> = {
      'a quote inside a field': { text: `${header}\n${row(0, '他说"好"吗')}\n`, questions: ['他说"好"吗'] },
      'text after a closing quote': { text: `${header}\n${row(0, '"问题"之后')}\n` }, // malformed: refused by both
      'a lone CR between rows': { text: `${header}\r${row(0, '甲问')}\r${row(1, '乙问')}\r`, questions: ['甲问', '乙问'] },
      'a quoted formula cell': { text: `${header}\n${row(0, '="0123"')}\n`, questions: ['="0123"'] },
      'a ; delimiter': { text: `${header.replaceAll(',', ';')}\n${row(0, '分号').replaceAll(',', ';')}\n`, questions: ['分号'] },
      'a byte-order mark': { text: `\ufeff${header}\n${row(0, '标记')}\n`, questions: ['标记'] },
      'CRLF line ends': { text: `${header}\r\n${row(0, '一')}\r\n${row(1, '二')}\r\n`, questions: ['一', '二'] },
      'doubled quotes, a comma and a newline in a quoted field': { text: `${header}\n${row(0, '"a, ""b""\nc"')}\n`, questions: ['a, "b"\nc'] },
      'blank lines between rows': { text: `${header}\n\n${row(0, '一')}\n\n\n${row(1, '二')}\n`, questions: ['一', '二'] },
      'no newline at the end': { text: `${header}\n${row(0, '末')}`, questions: ['末'] },
    };
    for (const [kind, { text, questions }] of Object.entries(inputs)) {
      const root = join(dir.path, `csv-${kind.replace(/\W+/g, '-')}`);
      for (const split of ['dev', 'val']) {
        mkdirSync(join(root, split), { recursive: true });
        writeFileSync(join(root, split, `s_${split}.csv`), text);
      }
      const read = (how: () => Question[]) => {
        try {
          return { questions: how() };
        } catch (error) {
          return { error: (error as Error).message };
        }
      };
      const cli = read(() => loadDataset(root, { protocol: 'ceval', split: 'val' })[0]!.questions);
      const inTab = read(() => tab.questionsFromRows(tab.parseCsv(text), 's_val.csv'));
      expect(inTab.questions, `${kind}: tab ${inTab.error ?? ''} / CLI ${cli.error ?? ''}`).toEqual(cli.questions);
      expect(!!inTab.error, kind).toBe(!!cli.error);
      if (questions) expect(cli.questions?.map((q) => q.question), kind).toEqual(questions);
      else expect(cli.error, kind).toMatch(/row 2: .*(quote|Quote)/);
    }
    // The poetry quiz the demo reads in the page: identical on both paths.
    const quiz = join(REPO_ROOT, 'models/poetry/data/quiz');
    const subjects = loadDataset(quiz, { protocol: 'ceval', split: 'val' });
    for (const subject of subjects) {
      const text = readFileSync(join(quiz, 'val', `${subject.name}_val.csv`), 'utf8');
      expect(tab.questionsFromRows(tab.parseCsv(text), subject.name)).toEqual(subject.questions);
    }
    expect(() => parseCsv('a,"b')).toThrow(/row 1: .*[Qq]uote/);
  });

  it('refuses a row short of fields instead of reading it with options missing', () => {
    expect(() => questionsFromRows([['id', 'question', 'A', 'B', 'C', 'D', 'answer'], ['1', 'q', 'a', 'b']], 'x.csv')).toThrow(/x\.csv: row 1 has 4 fields, the header names 7/);
    expect(() => questionsFromRows([['q', 'a', 'b', 'c']], 'mmlu.csv')).toThrow(/row 1 has 4 fields, MMLU rows have 5 or 6/);
  });

  it('picks the letter with the highest logit, the first among equals', () => {
    expect(argmaxLetter({ A: 1, B: 3, C: 3, D: -1 })).toBe('B');
    expect(argmaxLetter({ A: 0, B: 0, C: 0, D: 0 })).toBe('A');
  });
});

describe('webchuan eval on a tiny random model', () => {
  it('gives the choices of a full CPU forward pass on every question, reusing the KV cache across questions', async () => {
    const config = tinyBaichuanConfig({ vocabSize: tinyTokenizerPieces().length, contextWindow: 512 });
    const model = join(dir.path, 'model');
    await writeRandomModel(model, config, 'q0f32', 77, 'tiny');
    // A small dataset in C-Eval's layout: 5 shots, 6 questions, two subjects.
    const data = join(dir.path, 'ceval');
    const next = mulberry32(5);
    const csv = (rows: Question[]) =>
      `id,question,A,B,C,D,answer\n${rows.map((r, i) => [i, `"${r.question}"`, r.A, r.B, r.C, r.D, r.answer].join(',')).join('\n')}\n`;
    const random = (n: number, tag: string) => Array.from({ length: n }, (_, i) => q(`${tag}${i}: ${'x'.repeat(Math.floor(next() * 5))}?`, LETTERS[Math.floor(next() * 4)]!));
    for (const split of ['dev', 'val']) mkdirSync(join(data, split), { recursive: true });
    for (const subject of ['alpha', 'beta']) {
      writeFileSync(join(data, 'dev', `${subject}_dev.csv`), csv(random(5, `${subject} shot`)));
      writeFileSync(join(data, 'val', `${subject}_val.csv`), csv(random(3, `${subject} q`)));
    }
    writeFileSync(join(data, 'subject_mapping.json'), JSON.stringify({ alpha: ['Alpha', '甲科', 'STEM'], beta: ['Beta', '乙科', 'Other'] }));

    const out = join(dir.path, 'summary.json');
    execFileSync(join(REPO_ROOT, 'node_modules/.bin/webchuan'), ['eval', '--model', model, '--data', data, '--out', out], { stdio: 'pipe' });
    const summary = JSON.parse(readFileSync(out, 'utf8')) as EvalSummary;
    expect(summary.subjects.map((s) => [s.name, s.title, s.scored])).toEqual([['alpha', '甲科', 3], ['beta', '乙科', 3]]);
    const correct = summary.subjects.flatMap((s) => s.questions).filter((r) => r.correct).length;
    expect(summary.microAccuracy).toBeCloseTo(correct / 6, 10);

    // The same prompts through the CPU reference, each from position 0 with nothing cached.
    const source = directorySource(model);
    const reference = new ReferenceModel(config, await collectReferenceWeights(config, readTensors(source, (await openArtifact(source)).cache)), 512);
    const tokenizer = await loadNodeTokenizer(model);
    const letters = await letterTokens('ceval', (t) => tokenizer.encode(t));
    // In context, each letter after 答案： is the tokenizer's own piece for it.
    expect(LETTERS.map((l) => letters[l])).toEqual(LETTERS.map((l) => tinyTokenizerPieces().findIndex((p) => p.piece === l)));
    const subjects = loadDataset(data, { protocol: 'ceval', split: 'val' });
    for (const [s, subject] of subjects.entries()) {
      for (const [i, question] of subject.questions.entries()) {
        const result = summary.subjects[s]!.questions[i]!;
        expect(result.shots).toBe(5);
        const ids = tokenizer.encode(buildPrompt('ceval', subject, subject.dev, question));
        const logits = reference.forward(ids, 0).subarray((ids.length - 1) * config.vocabSize);
        const scores = Object.fromEntries(LETTERS.map((l) => [l, logits[letters[l]]!])) as Record<Letter, number>;
        expect(result.choice, `${subject.name} #${i}`).toBe(argmaxLetter(scores));
        for (const l of LETTERS) expect(Math.abs(result.logits![l] - scores[l])).toBeLessThan(1e-3);
      }
    }
    tokenizer.dispose();
  });
});
