/**
 * `webchuan/eval`: C-Eval / MMLU-style multiple-choice evaluation of a loaded model, in the page,
 * through the public SDK. The CLI's `webchuan eval` runs the same protocol (multiple-choice.ts).
 */
import type { Engine } from '../client/engine.js';
import { evaluate, LETTERS, letterTokens, type Chooser, type EvalOptions, type EvalSummary, type Letter, type Subject } from './multiple-choice.js';

export * from './multiple-choice.js';

/**
 * Chooses through ordinary completions: one greedy token with a +100 bias on the four letters' tokens.
 * The bias is the same for all four, so the one the model picks is the one whose own logit is highest
 * — the protocol's choice — while every other token stays out of reach.
 */
export function engineChooser(engine: Engine): Chooser {
  const byText = new Map<string, Letter>();
  return {
    countTokens: (text) => engine.tokenizer.count(text),
    async choose(prompt, letters) {
      if (byText.size === 0) {
        for (const l of LETTERS) byText.set((await engine.tokenizer.decode([letters[l]])).trim(), l);
      }
      const logit_bias = Object.fromEntries(LETTERS.map((l) => [String(letters[l]), 100]));
      const completion = await engine.completions.create({ prompt, max_tokens: 1, temperature: 0, logit_bias });
      const text = completion.choices[0]!.text.trim();
      const choice = byText.get(text);
      if (!choice) throw new Error(`the model answered ${JSON.stringify(text)}, which is none of A, B, C, D`);
      return { choice };
    },
  };
}

/** Evaluates `subjects` on the engine's model; prompts are fitted to its context window. */
export async function evaluateEngine(engine: Engine, subjects: readonly Subject[], options: Omit<EvalOptions, 'maxPromptTokens'> & { maxPromptTokens?: number }): Promise<EvalSummary> {
  const letters = await letterTokens(options.protocol, (text) => engine.tokenizer.encode(text));
  return evaluate(subjects, engineChooser(engine), letters, { maxPromptTokens: engine.model.contextWindow - 1, ...options });
}
