/**
 * One model's grammars: XGrammar's view of its vocabulary (built once, on the first structured
 * request), a compiler, and the compiled grammars of recent requests (an autocomplete or a chat sends
 * the same schema again and again; compiling a schema against 64,000 tokens takes far longer than a
 * mask). Each request gets its own matcher, a TokenConstraint.
 */
import type { GrammarSpec } from '../client/protocol.js';
import { InvalidRequestError } from '../errors.js';
import type { TokenConstraint } from './constraint.js';
import { GrammarCompiler, GrammarMatcher, Testings, TokenizerInfo, type CompiledGrammar } from './xgrammar-glue.js';

/** How XGrammar reads the model's tokens. */
export interface GrammarVocabulary {
  /** Each id's piece as the tokenizer stores it (`▁Hello`, `<0x0A>`, `Ġthe`). */
  tokens: string[];
  /** The model's vocabulary size (its logits), which may exceed the tokenizer's. */
  vocabSize: number;
  /** The end-of-sequence ids: the only tokens allowed once the grammar is complete. */
  stopTokenIds: readonly number[];
  /**
   * How pieces become bytes: 'byte_fallback' (SentencePiece: `▁` is a space, `<0xNN>` a byte),
   * 'byte_level' (GPT-2's byte-to-unicode table), or 'raw'. Absent: guessed from the pieces.
   */
  postproc?: string;
  prependSpace?: boolean;
}

/**
 * How a held JSON reply is laid out: on one line, with OpenAI's and Python's separators (`{"a": 1,
 * "b": [2, 3]}`). No whitespace is left to the model: with free layout a sampled reply can spend its
 * tokens on spaces and newlines (on random weights most replies did, and ran out of max_tokens
 * before the JSON closed); fixed, every token goes to content and a short schema's reply is short.
 */
const JSON_LAYOUT = { anyWhitespace: false, indent: -1, separators: [', ', ': '] as [string, string] };
/** Compiled grammars kept per model. */
const CACHED_GRAMMARS = 8;

/** XGrammar's token post-processing for a vocabulary whose artifact does not name it. */
export function guessPostproc(tokens: readonly string[]): string {
  if (tokens.some((t) => /^<0x[0-9A-F]{2}>$/.test(t))) return 'byte_fallback';
  if (tokens.some((t) => t.startsWith('Ġ') || t === 'Ċ')) return 'byte_level';
  return 'raw';
}

function key(spec: GrammarSpec): string {
  if (spec.kind === 'json') return `json ${spec.strict} ${spec.schema ?? ''}`;
  return spec.kind === 'ebnf' ? `ebnf ${spec.grammar}` : `json_or_text ${spec.schema}`;
}

/**
 * EBNF for "JSON valid against `schema`, or text that does not begin with `{`": XGrammar's own
 * translation of the schema with its start rule renamed, beside a rule for plain text.
 */
export async function jsonOrTextGrammar(schema: string): Promise<string> {
  const json = await Testings._jsonSchemaToEBNF(schema, JSON_LAYOUT.anyWhitespace, JSON_LAYOUT.indent, JSON_LAYOUT.separators, true);
  const renamed = json.replace(/^root ::=/m, 'json_reply ::=').replace(/(?<![\w"])root(?![\w"])/g, 'json_reply');
  return `${renamed}\nroot ::= json_reply | text_reply\ntext_reply ::= [^{ \\t\\n] [^\\0]*\n`;
}

export class ModelGrammars {
  private readonly compiled = new Map<string, CompiledGrammar>();

  private constructor(
    private readonly info: TokenizerInfo,
    private readonly compiler: GrammarCompiler,
    private readonly stopTokenIds: readonly number[],
  ) {}

  /** XGrammar's tables for `vocab` (the runtime must have been started: runtime.ts). */
  static async create(vocab: GrammarVocabulary): Promise<ModelGrammars> {
    const postproc = vocab.postproc ?? guessPostproc(vocab.tokens);
    const info = await TokenizerInfo.createTokenizerInfo(vocab.tokens, postproc, vocab.prependSpace ?? false, vocab.vocabSize, [...vocab.stopTokenIds]);
    return new ModelGrammars(info, await GrammarCompiler.createGrammarCompiler(info), vocab.stopTokenIds);
  }

  /** A matcher for `spec`, and how long compiling took (0 when the grammar was cached). */
  async constraint(spec: GrammarSpec): Promise<{ constraint: TokenConstraint; compileSeconds: number }> {
    const t0 = performance.now();
    const grammar = await this.compile(spec);
    const matcher = await GrammarMatcher.createGrammarMatcher(grammar, [...this.stopTokenIds]);
    return { constraint: new XGrammarConstraint(matcher), compileSeconds: (performance.now() - t0) / 1000 };
  }

  private async compile(spec: GrammarSpec): Promise<CompiledGrammar> {
    const k = key(spec);
    const cached = this.compiled.get(k);
    if (cached) {
      this.compiled.delete(k); // most recently used last
      this.compiled.set(k, cached);
      return cached;
    }
    let grammar: CompiledGrammar;
    try {
      if (spec.kind === 'ebnf') grammar = await this.compiler.compileGrammar(spec.grammar);
      else if (spec.kind === 'json_or_text') grammar = await this.compiler.compileGrammar(await jsonOrTextGrammar(spec.schema));
      else grammar = await this.compiler.compileJSONSchema(spec.schema ?? '{"type":"object"}', JSON_LAYOUT.anyWhitespace, JSON_LAYOUT.indent, JSON_LAYOUT.separators, spec.schema === undefined ? false : spec.strict);
    } catch (error) {
      const what = spec.kind === 'ebnf' ? 'response_format.grammar' : spec.kind === 'json' ? 'response_format.schema' : 'tools';
      throw new InvalidRequestError(what, `${what}: XGrammar could not compile it: ${errorText(error)}`);
    }
    this.compiled.set(k, grammar);
    if (this.compiled.size > CACHED_GRAMMARS) {
      const [oldest, dropped] = this.compiled.entries().next().value as [string, CompiledGrammar];
      this.compiled.delete(oldest);
      dropped.dispose();
    }
    return grammar;
  }

  dispose(): void {
    for (const g of this.compiled.values()) g.dispose();
    this.compiled.clear();
    this.compiler.dispose();
    this.info.dispose();
  }
}

/** Emscripten throws C++ exceptions as numbers or objects; XGrammar's messages reach JS as Errors. */
function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** A request's XGrammar matcher as a TokenConstraint. */
class XGrammarConstraint implements TokenConstraint {
  seconds = 0;

  constructor(private readonly matcher: GrammarMatcher) {}

  async allowedTokens(): Promise<Uint32Array> {
    const t0 = performance.now();
    const mask = await this.matcher.getNextTokenBitmask();
    this.seconds += (performance.now() - t0) / 1000;
    return new Uint32Array(mask.buffer, mask.byteOffset, mask.length);
  }

  accept(id: number): boolean {
    const t0 = performance.now();
    const ok = this.matcher.acceptToken(id);
    this.seconds += (performance.now() - t0) / 1000;
    return ok;
  }

  get finished(): boolean {
    return this.matcher.isTerminated();
  }

  dispose(): void {
    this.matcher.dispose();
  }
}
