/**
 * Request and response types of the OpenAI-style API. Field names follow OpenAI's where one exists
 * (as WebLLM's do); the page and the worker both speak them.
 */
import type { SamplingParams } from '../engine/sampler.js';
import type { ChatTemplate } from './chat-template.js';

export type FinishReason = 'stop' | 'length' | 'abort';

export interface CompletionCreateParams extends SamplingParams {
  prompt: string;
  /** Most tokens to generate (default 16, as OpenAI). */
  max_tokens?: number;
  /** Up to 4 strings that end generation; they may span token boundaries and are not returned. */
  stop?: string | string[];
  /** Return the log-probability of each chosen token (under the sampling distribution's logits). */
  logprobs?: boolean;
  /** 'left': drop the oldest prompt tokens when prompt + max_tokens exceed the context window. */
  truncation?: 'none' | 'left';
  stream?: boolean;
  signal?: AbortSignal;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  /** Speed figures webchuan adds. */
  extra: {
    prefill_tokens_per_s: number;
    decode_tokens_per_s: number;
    time_to_first_token_s: number;
  };
}

export interface CompletionChoice {
  index: number;
  text: string;
  finish_reason: FinishReason | null;
  logprobs: { tokens: string[]; token_logprobs: number[] } | null;
}

export interface Completion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: CompletionChoice[];
  usage: Usage;
}

/** A streamed piece: text since the previous chunk; the last chunk has finish_reason and usage. */
export interface CompletionChunk {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: { index: number; text: string; finish_reason: FinishReason | null }[];
  usage?: Usage;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatCompletionCreateParams extends Omit<CompletionCreateParams, 'prompt'> {
  messages: ChatMessage[];
  /** How these messages become a prompt, for this request only (default: the engine's `chatTemplate`). */
  template?: ChatTemplate;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: { index: number; message: ChatMessage; finish_reason: FinishReason | null }[];
  usage: Usage;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: { index: number; delta: { role?: 'assistant'; content?: string }; finish_reason: FinishReason | null }[];
  usage?: Usage;
}

/** What the worker needs of a chat request that the engine itself turns into a prompt (WebLLM: the model's own template). */
export type WorkerChatRequest = Omit<ChatCompletionCreateParams, 'signal' | 'stream'> & { requestId: string };

/** What the worker needs of a completion request (everything but the signal and the stream flag). */
export type WorkerCompletionRequest = Omit<CompletionCreateParams, 'signal' | 'stream'> & {
  requestId: string;
  /** Stop strings of the chat template, on top of the caller's `stop` (which is limited to 4). */
  template_stop?: string[];
};

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
  /** CPU path only: threads for llama.cpp where the page is cross-origin isolated (default: half the logical cores). */
  threads?: number;
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
  /** On the CPU path: llama.cpp's threads, which wasm build runs, and the GGUF the tab built from the artifact. */
  cpu?: { threads: number; build: 'memory64' | 'compat'; ggufBytes: number; ggufBuildMs: number };
}
