// The catalog as the demo reads it, what each model is for (example text, chat template), and the
// "Can this device run it?" cards: the engine's own verdict (deviceVerdict) for every catalog model,
// computed before any of its weights are downloaded.
import { artifactFileUrl, BAICHUAN_7B, buildChatConfig, deviceVerdict, formatBytes, modelId, type ChatConfigJson, type ChatTemplate, type DeviceFacts, type DeviceVerdict } from 'webchuan';
import catalog from '../../../models/catalog.json';

export interface CatalogModel {
  id: string;
  name: string;
  url: string;
  source: string;
  quantization: 'q4f16_1' | 'q4f32_1';
  sizeBytes: number;
  gpuMemoryBytes: number;
  contextWindow: number;
  license: string;
  default?: boolean;
  artifact?: string;
  /** `baichuan-7b`: the SDK's BAICHUAN_7B; absent: the artifact's own mlc-chat-config.json at `url`. */
  shape?: string;
}

export const MODELS = catalog.models as CatalogModel[];
export const DEFAULT_MODEL = MODELS.find((m) => m.default) ?? MODELS[0]!;

/** What the page shows and asks of a model: its example text and how a chat becomes a prompt. */
export interface Profile {
  /** Pre-filled in the autocomplete box: a suggestion follows as soon as the model is ready. */
  example: string;
  /** Pre-filled in the "Continue writing" box: the start of a longer text the model can go on with. */
  continuation: string;
  /** One line under the page's title: what is running. */
  line: string;
  chatNote: string;
  placeholder: string;
  template?: ChatTemplate;
}

/** Baichuan-7B's README seed prompt: its own few-shot `标题->作者` form. */
const SEED = '登鹳雀楼->王之涣\n夜雨寄北->';

/**
 * The poetry model was trained on documents `标题->作者\n第一句，第二句。\n…`, each one poem, ended by
 * </s>: a title followed by `->` is exactly how its poems begin, so that is the whole prompt. Earlier
 * turns are left out (each title stands alone, and the context window is 512 tokens). It stops at
 * </s>, or where it starts another poem's `标题->` line or leaves a blank line.
 */
export const poetryTemplate: ChatTemplate = (messages) => {
  const title = [...messages].reverse().find((m) => m.role === 'user')?.content.trim().replace(/^《|》$/g, '') ?? '';
  return { prompt: `${title}->`, stop: ['->', '\n\n'] };
};

export function profileFor(model: CatalogModel | undefined): Profile {
  if (model?.id.startsWith('poetry-')) {
    return {
      example: SEED,
      // A poem's title and author line: the model goes on with the poem itself (a few dozen tokens),
      // where the seed prompt ends after the author's name.
      continuation: '春晓->孟浩然\n',
      line: 'Running here: a 5.8M-parameter Tang poetry model with Baichuan-7B\'s architecture (not Baichuan-7B itself: see below).',
      chatNote: 'Type the title of a poem from 唐诗三百首, such as 春晓 or 枫桥夜泊: the model answers with its author and recites it.',
      placeholder: '一首唐诗的标题，如：春晓',
      template: poetryTemplate,
    };
  }
  return {
    example: SEED,
    continuation: SEED,
    line: `Running here: ${model?.name ?? 'the model at the URL given'}.`,
    chatNote: 'A base model continues a plain User: / Assistant: transcript.',
    placeholder: 'Message',
  };
}

/** The model's mlc-chat-config.json: built from the SDK's shape, or read from the hosted artifact (a few KB). */
const chatConfigs = new Map<string, Promise<ChatConfigJson>>();
export function chatConfigFor(model: CatalogModel): Promise<ChatConfigJson> {
  let config = chatConfigs.get(model.id);
  if (!config) chatConfigs.set(model.id, (config = fetchChatConfig(model)));
  return config;
}

async function fetchChatConfig(model: CatalogModel): Promise<ChatConfigJson> {
  if (model.shape === 'baichuan-7b') return buildChatConfig(BAICHUAN_7B, model.quantization, { tokenizerFiles: ['tokenizer.model'] });
  const hosted = await hostedConfig(model);
  if (!hosted) throw new Error(`no mlc-chat-config.json at ${model.url}`);
  return hosted;
}

/**
 * The artifact's mlc-chat-config.json as this site serves it, or undefined where it is not hosted
 * here: one small request per model and page, so a card offers "Load" only for a model that can load.
 * A static host's fallback page (HTML with status 200) counts as not hosted.
 */
const hostedConfigs = new Map<string, Promise<ChatConfigJson | undefined>>();
export function hostedConfig(model: CatalogModel): Promise<ChatConfigJson | undefined> {
  let config = hostedConfigs.get(model.id);
  if (!config) {
    config = fetch(artifactFileUrl(modelId(model.url, location.href), 'mlc-chat-config.json'), { cache: 'no-store' }) // a query in the URL is kept
      .then(async (response) => {
        if (!response.ok) return undefined;
        const json = (await response.json()) as ChatConfigJson;
        return typeof json === 'object' && json !== null && 'model_type' in json ? json : undefined;
      })
      .catch(() => undefined);
    hostedConfigs.set(model.id, config);
  }
  return config;
}

export interface Card {
  model: CatalogModel;
  current: boolean;
  /** Whether this site serves the model's files (undefined: not checked yet). */
  hosted?: boolean;
  verdict?: DeviceVerdict;
  problem?: string;
  cachedBytes: number;
}

export async function verdictFor(model: CatalogModel, device: DeviceFacts, cachedBytes: number): Promise<DeviceVerdict> {
  const chatConfig = await chatConfigFor(model);
  return deviceVerdict({ chatConfig, downloadBytes: model.sizeBytes, cachedBytes, contextWindow: model.contextWindow }, device);
}

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

export function renderCards(list: HTMLElement, cards: Card[], onLoad: (model: CatalogModel) => void): void {
  list.replaceChildren(
    ...cards.map(({ model, current, hosted, verdict, problem, cachedBytes }) => {
      const titleId = `card-${model.id}`;
      const facts = el('dl', { className: 'facts' });
      const add = (term: string, value: string) => facts.append(el('dt', { textContent: term }), el('dd', { textContent: value }));
      add('Download', cachedBytes >= model.sizeBytes ? `${formatBytes(model.sizeBytes)} (stored in this browser)` : formatBytes(model.sizeBytes));
      if (verdict?.path) add('Runs on', verdict.path === 'cpu' ? `the CPU (llama.cpp), ${formatBytes(verdict.kind === 'cpu' ? verdict.memoryBytes : 0)} of memory` : 'the GPU (WebGPU)');
      add('GPU memory', formatBytes(verdict?.gpuBytes ?? model.gpuMemoryBytes));
      add('Context', `${model.contextWindow.toLocaleString('en')} tokens`);
      add('License', model.license);
      const verdictText = verdict ? verdict.summary : problem ? `Could not check: ${problem}` : 'Checking this device…';
      const status = el('p', { className: 'verdict', textContent: verdictText });
      status.dataset.kind = verdict?.kind ?? (problem ? 'unknown' : 'checking');
      // Offered only once this site is known to serve the model: a Load that ends in a 404 helps nobody.
      let action: HTMLElement;
      if (current || hosted) {
        const button = el('button', { type: 'button', textContent: current ? 'Loaded' : `Load ${model.name.split(' (')[0]}`, disabled: current });
        if (current) button.setAttribute('aria-current', 'true');
        button.addEventListener('click', () => onLoad(model));
        action = button;
      } else {
        action = el('p', { className: 'hosting', textContent: hosted === false ? 'Not hosted on this site yet: see above for how to add it.' : 'Checking whether this site hosts it…' });
      }
      const card = el('li', { className: `card${current ? ' current' : ''}` }, el('h3', { id: titleId, textContent: model.name }), el('p', { className: 'note', textContent: model.source }), facts, status, action);
      card.dataset.model = model.id;
      card.setAttribute('aria-labelledby', titleId);
      return card;
    }),
  );
}
