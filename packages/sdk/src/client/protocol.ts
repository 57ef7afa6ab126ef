/**
 * Request and response types of the OpenAI-style API. Field and type names are OpenAI's and WebLLM's
 * (`ChatCompletionRequest`, `CompletionUsage`, …), so code typed against `@mlc-ai/web-llm` type-checks
 * against webchuan; the page and the worker both speak them. Every field is honoured or refused with
 * an `InvalidRequestError` naming it: none is ignored.
 */
import type { KernelEstimates } from '../engine/kernel-tuning.js';
import type { KernelPreference, KernelSelection } from '../gpu/variants.js';
import type { ChatTemplate } from './chat-template.js';

/** Why a choice ended: a stop token or string, `max_tokens` or the context window, an abort, or a tool call. */
export type FinishReason = 'stop' | 'length' | 'abort' | 'tool_calls';
export type ChatCompletionFinishReason = FinishReason;

// ---------------------------------------------------------------------------------------------
// Structured output

/**
 * Holds the reply to a format, every token of it (a grammar masks out every token that would break
 * it): `json_object` (any JSON object, or one valid against `schema`: WebLLM's form),
 * `json_schema` (OpenAI's form), `grammar` (an EBNF grammar, XGrammar's dialect, as WebLLM takes it);
 * `text` is no constraint.
 */
export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object'; /** A JSON schema, as a JSON string (WebLLM) or an object. */ schema?: string | Record<string, unknown> }
  | { type: 'json_schema'; json_schema: JsonSchemaFormat }
  | { type: 'grammar'; /** EBNF, with `root` as the start rule. */ grammar: string };

/** OpenAI's `json_schema` response format. */
export interface JsonSchemaFormat {
  name: string;
  description?: string;
  /** The schema (absent: any JSON object). */
  schema?: Record<string, unknown>;
  /** OpenAI's strict mode: no properties beyond those the schema lists. webchuan always holds the reply to the schema; `strict: false` also allows extra properties where the schema does not forbid them. */
  strict?: boolean | null;
}

// ---------------------------------------------------------------------------------------------
// Tools

export type FunctionParameters = Record<string, unknown>;

export interface FunctionDefinition {
  name: string;
  description?: string;
  /** A JSON schema of the arguments (absent: no arguments). */
  parameters?: FunctionParameters;
}

export interface ChatCompletionTool {
  type: 'function';
  function: FunctionDefinition;
}

export interface ChatCompletionNamedToolChoice {
  type: 'function';
  function: { name: string };
}

/** `'none'`: answer in text; `'auto'` (the default with tools): a tool call or text; `'required'`: a call; or one named tool. */
export type ChatCompletionToolChoiceOption = 'none' | 'auto' | 'required' | ChatCompletionNamedToolChoice;

export interface ChatCompletionMessageToolCall {
  id: string;
  type: 'function';
  function: { name: string; /** The arguments as a JSON string (OpenAI's shape). */ arguments: string };
}

// ---------------------------------------------------------------------------------------------
// Messages

export interface ChatCompletionContentPartText {
  type: 'text';
  text: string;
}

export interface ChatCompletionContentPartImage {
  type: 'image_url';
  image_url: { url: string; detail?: 'auto' | 'low' | 'high' };
}

/** A part of a message's content: text parts are joined with a newline; any other kind is refused (webchuan's models read text only). */
export type ChatCompletionContentPart = ChatCompletionContentPartText | ChatCompletionContentPartImage;

export interface ChatCompletionSystemMessageParam {
  role: 'system';
  content: string | ChatCompletionContentPartText[];
}

export interface ChatCompletionUserMessageParam {
  role: 'user';
  content: string | ChatCompletionContentPart[];
}

export interface ChatCompletionAssistantMessageParam {
  role: 'assistant';
  content?: string | null;
  tool_calls?: ChatCompletionMessageToolCall[];
}

/** A tool's result, answering the assistant's call with the same id. */
export interface ChatCompletionToolMessageParam {
  role: 'tool';
  content: string;
  tool_call_id: string;
}

export type ChatCompletionMessageParam = ChatCompletionSystemMessageParam | ChatCompletionUserMessageParam | ChatCompletionAssistantMessageParam | ChatCompletionToolMessageParam;
/** webchuan's earlier name for a message. */
export type ChatMessage = ChatCompletionMessageParam;
export type ChatCompletionRole = ChatCompletionMessageParam['role'];

/** A message as a chat template receives it: content is text (parts joined), assistant tool calls kept. */
export interface TemplateMessage {
  role: ChatCompletionRole;
  content: string;
  /** An assistant's calls (its content is then usually empty). */
  tool_calls?: ChatCompletionMessageToolCall[];
  /** A tool message: the call it answers. */
  tool_call_id?: string;
}

// ---------------------------------------------------------------------------------------------
// Requests

export interface ChatCompletionStreamOptions {
  /** A last chunk with `choices: []` and the request's `usage` (then no other chunk carries usage). */
  include_usage?: boolean;
}

/** The fields completions and chat share. `null` means unset, as in WebLLM's and OpenAI's APIs. */
export interface RequestFields {
  /**
   * Most tokens to generate. Default, as WebLLM's: until a stop token or string, or the end of the
   * context window. 0 returns no text (usage only).
   */
  max_tokens?: number | null;
  /** 0 = greedy. Default 1. */
  temperature?: number | null;
  /** Keep the smallest set of most likely tokens whose probability reaches top_p (1 = off). */
  top_p?: number | null;
  /** webchuan: keep only the k most likely tokens (0 = off). */
  top_k?: number | null;
  /** Hugging Face: divide positive / multiply negative logits of every token in prompt + output (1 = off). */
  repetition_penalty?: number | null;
  /** OpenAI: subtract this from the logit of every token already generated (0 = off). */
  presence_penalty?: number | null;
  /** OpenAI: subtract this × (times generated) from each token's logit (0 = off). */
  frequency_penalty?: number | null;
  /** token id → bias added to its logit (-100…100). */
  logit_bias?: Record<string, number> | null;
  /** Reproducible sampling. */
  seed?: number | null;
  /** Up to 4 strings that end generation; they may span token boundaries and are not returned. */
  stop?: string | string[] | null;
  /** How many choices to generate for the prompt (1…128; default 1). Streamed choices come one after the other, each chunk naming its `index`. */
  n?: number | null;
  /** The log-probability of each chosen token (under the logits sampling drew from). */
  logprobs?: boolean | null;
  /** With `logprobs`: also the 0…20 most likely tokens at each position. */
  top_logprobs?: number | null;
  /** Keep generating past the model's end-of-sequence token (until `max_tokens`, a stop string or the context window). */
  ignore_eos?: boolean | null;
  /** Hold the reply to JSON, a JSON schema or a grammar. */
  response_format?: ResponseFormat | null;
  /** The model that answers: the loaded model's URL or id (anything else is refused). */
  model?: string | null;
  /** 'left': drop the oldest prompt tokens (or, in chat on WebLLM, turns) when the prompt does not fit. */
  truncation?: 'none' | 'left';
  stream?: boolean | null;
  /** With `stream: true` only. */
  stream_options?: ChatCompletionStreamOptions | null;
  /** Ends the request: the stream ends before the next token, a pending promise rejects with AbortError. */
  signal?: AbortSignal;
  /** WebLLM's extras: `enable_thinking` (passed to WebLLM's template; refused on webchuan's engine), `enable_latency_breakdown` (refused). */
  extra_body?: { enable_thinking?: boolean | null; enable_latency_breakdown?: boolean | null } | null;
}

export interface CompletionCreateParamsBase extends Omit<RequestFields, 'logprobs'> {
  prompt: string;
  /** Return the prompt before the generated text (streamed first). With `logprobs`, as WebLLM: only the generated tokens have log-probabilities. */
  echo?: boolean | null;
  /** OpenAI's legacy form `logprobs: N` (0…5) means `logprobs: true, top_logprobs: N`. */
  logprobs?: boolean | number | null;
}
export interface CompletionCreateParamsNonStreaming extends CompletionCreateParamsBase {
  stream?: false | null;
}
export interface CompletionCreateParamsStreaming extends CompletionCreateParamsBase {
  stream: true;
}
export type CompletionCreateParams = CompletionCreateParamsNonStreaming | CompletionCreateParamsStreaming;

export interface ChatCompletionRequestBase extends RequestFields {
  messages: ChatCompletionMessageParam[];
  /** Functions the model may call: the reply is then held to a call's JSON and returned as `tool_calls`. */
  tools?: ChatCompletionTool[] | null;
  tool_choice?: ChatCompletionToolChoiceOption | null;
  /** How these messages become a prompt, for this request only (default: the engine's `chatTemplate`). */
  template?: ChatTemplate;
}
export interface ChatCompletionRequestNonStreaming extends ChatCompletionRequestBase {
  stream?: false | null;
}
export interface ChatCompletionRequestStreaming extends ChatCompletionRequestBase {
  stream: true;
}
export type ChatCompletionRequest = ChatCompletionRequestNonStreaming | ChatCompletionRequestStreaming;
/** webchuan's earlier name for a chat request. */
export type ChatCompletionCreateParams = ChatCompletionRequestBase;

// ---------------------------------------------------------------------------------------------
// Responses

export interface Usage {
  /**
   * Tokens of the prompt. webchuan's API: all of them, reused ones included (OpenAI's meaning); the
   * WebLLM surface (`CreateMLCEngine`): the tokens prefilled for this request (WebLLM's meaning).
   */
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Positions reused from the KV cache instead of recomputed. */
  prompt_tokens_details: { cached_tokens: number };
  /** Speed figures, WebLLM's names. */
  extra: {
    e2e_latency_s: number;
    prefill_tokens_per_s: number;
    decode_tokens_per_s: number;
    time_to_first_token_s: number;
    time_per_output_token_s: number;
    /** With `response_format` or `tools`: seconds to compile the grammar (0 when it was cached). */
    grammar_init_s?: number;
    /** …and seconds per generated token spent on the grammar (mask and accept). */
    grammar_per_token_s?: number;
    /**
     * WebGPU engine: seconds of this request spent waiting for GPU kernels to compile (the first use
     * of a prompt size not prepared before "ready"); part of time_to_first_token_s, left out of the
     * two speeds. Absent when there was no such wait.
     */
    gpu_kernel_prepare_s?: number;
  };
}
export type CompletionUsage = Usage;

export interface TopLogprob {
  token: string;
  /** The token's UTF-8 bytes (a token may hold part of a character). */
  bytes: number[] | null;
  logprob: number;
}

export interface ChatCompletionTokenLogprob extends TopLogprob {
  top_logprobs: TopLogprob[];
}

/** A completion's logprobs in both shapes its readers expect: OpenAI's legacy arrays and WebLLM's `content`. */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[] | null;
  text_offset: number[];
  content: ChatCompletionTokenLogprob[];
}

export interface CompletionChoice {
  index: number;
  text: string;
  finish_reason: FinishReason | null;
  logprobs: CompletionLogprobs | null;
}

export interface Completion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: CompletionChoice[];
  usage: Usage;
}

/**
 * A streamed piece of a completion: text since the previous chunk of the same choice. Each choice
 * ends with a chunk carrying its finish_reason; the last of these carries `usage`, unless
 * `stream_options.include_usage` asked for usage in a final chunk of its own (`choices: []`).
 */
export interface CompletionChunk {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: { index: number; text: string; finish_reason: FinishReason | null; logprobs?: CompletionLogprobs | null }[];
  usage?: Usage;
}

/** The assistant's reply: text, or (with tools) calls and no text. */
export interface ChatCompletionMessage {
  role: 'assistant';
  content: string | null;
  tool_calls?: ChatCompletionMessageToolCall[];
}

export interface ChatCompletionChoice {
  index: number;
  message: ChatCompletionMessage;
  finish_reason: FinishReason | null;
  logprobs: { content: ChatCompletionTokenLogprob[] | null } | null;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: ChatCompletionChoice[];
  usage: Usage;
}

export interface ChatCompletionDeltaToolCall {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

export interface ChatCompletionChunkChoice {
  index: number;
  delta: { role?: 'assistant'; content?: string | null; tool_calls?: ChatCompletionDeltaToolCall[] };
  finish_reason: FinishReason | null;
  logprobs?: { content: ChatCompletionTokenLogprob[] | null } | null;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: ChatCompletionChunkChoice[];
  usage?: Usage;
}

// ---------------------------------------------------------------------------------------------
// Page ↔ worker

/**
 * A grammar the worker holds a reply to (from `response_format`, or from `tools`): JSON (any object,
 * or valid against a schema given as a JSON string), EBNF, or (`tool_choice: 'auto'`) either JSON
 * valid against a schema or text that does not start with `{`.
 */
export type GrammarSpec = { kind: 'json'; schema?: string; strict: boolean } | { kind: 'ebnf'; grammar: string } | { kind: 'json_or_text'; schema: string };

/** What the worker needs of a chat request that the engine itself turns into a prompt (WebLLM: the model's own template). */
export type WorkerChatRequest = Omit<ChatCompletionRequestBase, 'signal' | 'stream' | 'stream_options' | 'template'> & { requestId: string };

/** What the worker needs of a completion request (everything but the signal and the stream fields). */
export type WorkerCompletionRequest = Omit<CompletionCreateParamsBase, 'signal' | 'stream' | 'stream_options'> & {
  requestId: string;
  /** Stop strings of the chat template, on top of the caller's `stop` (which is limited to 4). */
  template_stop?: string[];
  /** A grammar made on the page (a chat's tool call); `response_format` cannot be given with it. */
  grammar?: GrammarSpec;
};

/** One piece of one choice, as the worker streams it to the page. */
export interface WorkerDelta {
  choice: number;
  text: string;
  /** Log-probabilities of the tokens whose text this piece completes (with `logprobs`). */
  logprobs?: ChatCompletionTokenLogprob[];
}

/**
 * How a page's engine runs: 'shared' (one SharedWorker for every tab of the origin), 'dedicated' (a
 * Worker for this page), or 'dedicated-cross-origin' (webchuan was loaded from another origin, such
 * as a CDN, and browsers refuse such workers, so this tab runs its own engine).
 */
export type WorkerKind = 'shared' | 'dedicated' | 'dedicated-cross-origin';

/**
 * Which engine runs a model: `'webchuan'`, our own WebGPU kernels (Baichuan/LLaMA artifacts);
 * `'cpu'`, llama.cpp compiled to WebAssembly (`@wllama/wllama`) on the same artifacts, for browsers
 * without WebGPU or with only a software one; or `'webllm'`, `@mlc-ai/web-llm` running a model
 * library compiled by MLC (enabled by `import 'webchuan/webllm'`).
 */
export type BackendName = 'webchuan' | 'cpu' | 'webllm';

/**
 * What a page asks for: a backend by name, or `'auto'` (the default): our WebGPU engine on a hardware
 * GPU that can hold the model, the CPU path where there is no WebGPU, only a software adapter, or a
 * GPU too small for the model.
 */
export type BackendChoice = BackendName | 'auto';

/** How a model is loaded. */
export interface LoadOptions {
  /** KV cache length in tokens (default and maximum: the model's context window). */
  contextWindow?: number;
  /** WebLLM only: URL of the model library (`.wasm`) MLC compiled for this model. */
  modelLib?: string;
  /**
   * webchuan only: which GPU kernels run the model. `'auto'` (default): the engine times each kernel
   * option of each step kind on this GPU with this model's shapes, once, and keeps the choice in
   * IndexedDB for later loads (measured again for another GPU, model shape or engine version);
   * `'fast'`: the kernels shaped for real GPUs wherever the device supports them; `'baseline'`: the
   * portable kernels.
   */
  kernels?: KernelPreference;
  /**
   * webchuan only. `true` (default): the load resolves once every GPU pipeline a request can use has
   * been compiled and run once, so the first request starts at once; `false`: each pipeline compiles
   * when a request first needs it (the load resolves sooner; the first requests wait for their compiles).
   */
  warm?: boolean;
  /**
   * webchuan only, with `warm`: the prompt length (tokens) the first request will have, whose
   * pipelines are compiled before "ready" with the decode step's (default 16); other sizes compile
   * right after, in the background.
   */
  firstPromptTokens?: number;
  /** CPU path only: threads for llama.cpp where the page is cross-origin isolated (default: half the logical cores). */
  threads?: number;
}

/** webchuan only: the kernel set a model runs, and where the choice came from. */
export interface ModelKernels {
  preference: KernelPreference;
  /** The option of each step kind: decodeMatvec, decodeAttention, prefill. */
  selection: KernelSelection;
  /** `measured` during this load, `stored` (measured on an earlier visit), or `fixed` (`fast`, `baseline`). */
  source: 'measured' | 'stored' | 'fixed';
  /** With `auto`: how long the measurement took (ms), and its estimate of each option in ms per step. */
  measureMs?: number;
  estimatesMs?: KernelEstimates;
}

/** A loaded model, as the page sees it. */
export interface ModelInfo {
  url: string;
  backend: BackendName;
  /**
   * Who turns chat messages into a prompt: `'page'`, the engine's `chatTemplate` option (webchuan);
   * `'model'`, the model's own conversation template from its mlc-chat-config.json (WebLLM), unless
   * the page passed a `chatTemplate`.
   */
  chatTemplate: 'page' | 'model';
  modelType: string;
  quantization: string;
  contextWindow: number;
  vocabSize: number;
  /** GPU memory the model takes (0 on the CPU path). */
  gpuBytes: number;
  adapter: { vendor: string; architecture: string; description: string; features: string[] };
  /** webchuan only: the kernel set the model runs. */
  kernels?: ModelKernels;
  /** On the CPU path: llama.cpp's threads, which wasm build runs, and the GGUF the tab built from the artifact. */
  cpu?: { threads: number; build: 'memory64' | 'compat'; ggufBytes: number; ggufBuildMs: number };
}
