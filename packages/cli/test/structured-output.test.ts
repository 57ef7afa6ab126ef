/**
 * Replies held to a JSON schema or a grammar parse and validate every time, whatever the weights:
 * random weights on Baichuan-7B's own 64,000-token vocabulary, and the poetry model, sampled at
 * temperature 1 with several seeds (and greedy), through the engine's GPU path (the mask applied by
 * token_mask.wgsl before sampling or argmax). Replies are checked with Ajv, a JSON-schema validator
 * that shares nothing with XGrammar, and grammar replies with a regular expression of the same language.
 */
import Ajv from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GrammarSpec } from '../../sdk/src/client/protocol.js';
import { generate } from '../../sdk/src/engine/generate.js';
import { ModelGrammars } from '../../sdk/src/grammar/compiler.js';
import { StreamingDetokenizer } from '../../sdk/src/tokenizer/tokenizer.js';
import { tinyBaichuanConfig, writeRandomModel } from '../src/random-model.js';
import { loadNodeModel, nodeGrammarRuntime, type NodeModel } from '../src/runtime.js';
import { REPO_ROOT, sharedFile, tempDir } from '../../sdk/test/helpers.js';

/** Schemas whose every valid reply is short, so a reply always ends within max_tokens. */
const SCHEMAS: Record<string, Record<string, unknown>> = {
  record: {
    type: 'object',
    properties: {
      name: { type: 'string', maxLength: 6 },
      age: { type: 'integer', minimum: 0, maximum: 120 },
      admitted: { type: 'boolean' },
      house: { enum: ['Gryffindor', 'Hufflepuff', 'Ravenclaw', 'Slytherin'] },
    },
    required: ['name', 'age', 'admitted', 'house'],
  },
  nested: {
    type: 'object',
    properties: {
      // A number with no bound may take any count of digits (a reply then ends at max_tokens, 'length'): bounded here.
      wand: { type: 'object', properties: { wood: { type: 'string', maxLength: 4 }, length: { type: 'integer', minimum: 1, maximum: 40 } }, required: ['wood', 'length'] },
      tags: { type: 'array', items: { enum: ['a', 'b', 'c'] }, minItems: 1, maxItems: 3 },
    },
    required: ['wand', 'tags'],
  },
  tool_call: {
    type: 'object',
    properties: {
      tool_calls: {
        type: 'array',
        minItems: 1,
        maxItems: 1,
        items: { type: 'object', properties: { name: { const: 'get_weather' }, arguments: { type: 'object', properties: { unit: { enum: ['celsius', 'fahrenheit'] } }, required: ['unit'] } }, required: ['name', 'arguments'] },
      },
    },
    required: ['tool_calls'],
  },
};

/** An EBNF grammar (XGrammar's dialect) and the same language as a regular expression. */
const DATE_GRAMMAR = 'root ::= year "-" month "-" day\nyear ::= [12] [0-9] [0-9] [0-9]\nmonth ::= "0" [1-9] | "1" [0-2]\nday ::= "0" [1-9] | [12] [0-9] | "3" [01]\n';
const DATE = /^[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$/;

const SEEDS = [1, 2];
const MAX_TOKENS = 128;

const ajv = new Ajv({ strict: false });
const dir = tempDir();
afterAll(() => dir.remove());

interface Case {
  name: string;
  path: () => Promise<string | undefined>;
  /** The schemas tried on this model (each costs a few seconds of decoding on SwiftShader). */
  schemas: string[];
}

const cases: Case[] = [
  {
    name: 'random weights, Baichuan-7B vocabulary',
    path: async () => {
      const tokenizer = sharedFile('data/baichuan-7b/tokenizer.model');
      if (!tokenizer) return undefined;
      const out = `${dir.path}/random`;
      await writeRandomModel(out, tinyBaichuanConfig({ contextWindow: 256 }), 'q4f32_1', 17, tokenizer);
      return out;
    },
    schemas: ['record'],
  },
  { name: 'poetry model', path: async () => `${REPO_ROOT}/models/poetry/q4f32_1`, schemas: ['nested', 'tool_call'] },
];

// Several replies per case on SwiftShader: minutes when the 2-core machine is busy.
describe.each(cases)('structured output on the $name', { timeout: 400_000 }, ({ path, schemas }) => {
  let model: NodeModel | undefined;
  let grammars: ModelGrammars;

  beforeAll(async () => {
    const where = await path();
    if (!where) return;
    model = await loadNodeModel(where, { contextWindow: 256 });
    await nodeGrammarRuntime();
    const config = model.info.config;
    const tokens = Array.from({ length: model.tokenizer.vocabSize }, (_, id) => model!.tokenizer.idToToken(id));
    grammars = await ModelGrammars.create({ tokens, vocabSize: config.vocabSize, stopTokenIds: config.stopTokenIds, postproc: model.info.tokenizerInfo?.tokenPostprocMethod });
  }, 300_000);
  afterAll(() => {
    grammars?.dispose();
    model?.dispose();
  });

  /** One held reply: its text and why it ended. */
  async function reply(spec: GrammarSpec, temperature: number, seed: number): Promise<{ text: string; finish: string; tokens: number }> {
    const m = model!;
    const prompt = [...m.info.config.promptPrefixTokenIds, ...m.tokenizer.encode('登鹳雀楼->')];
    const { constraint } = await grammars.constraint(spec);
    const detok = new StreamingDetokenizer(m.tokenizer, prompt);
    let text = '';
    try {
      const result = await generate(m.forward, prompt, { maxTokens: MAX_TOKENS, temperature, seed, stopTokenIds: m.info.config.stopTokenIds, constraint, onToken: (id) => void (text += detok.push(id)) });
      return { text: text + detok.flush(), finish: result.finishReason, tokens: result.ids.length };
    } finally {
      constraint.dispose();
    }
  }

  for (const name of schemas) {
    const schema = SCHEMAS[name]!;
    it(`"${name}" schema: every sampled reply (${SEEDS.length} seeds, temperature 1) and the greedy one parse and validate`, async ({ skip }) => {
      if (!model) return skip();
      const validate = ajv.compile(schema);
      for (const [seed, temperature] of [...SEEDS.map((s) => [s, 1] as const), [0, 0] as const]) {
        const r = await reply({ kind: 'json', schema: JSON.stringify(schema), strict: true }, temperature, seed);
        expect(r.finish, `seed ${seed}: ${r.text}`).toBe('stop');
        const value: unknown = JSON.parse(r.text);
        expect(validate(value), `seed ${seed}: ${r.text} ${ajv.errorsText(validate.errors)}`).toBe(true);
      }
    });
  }

  it('an EBNF grammar: every sampled reply is in its language', async ({ skip }) => {
    if (!model) return skip();
    const texts = new Set<string>();
    for (const seed of SEEDS) {
      const r = await reply({ kind: 'ebnf', grammar: DATE_GRAMMAR }, 1, seed);
      expect(r.finish).toBe('stop');
      expect(r.text).toMatch(DATE);
      texts.add(r.text);
    }
    // Sampling, not one forced string: the seeds give different dates.
    expect(texts.size).toBeGreaterThan(1);
  });
});
