// The demo: which model runs here (verdict cards), the three elements on one model (the catalog's
// default, ?id=<catalog id> or ?model=<url>; one on another origin only once the visitor agrees) on
// the path the SDK picks (?backend=webchuan|cpu to choose one), an evaluation, an engine comparison,
// the cache and the device. Everything model-related runs in the SDK's workers.
import { deleteModel, describeDevice, formatBytes, listCachedModels, modelId, type CachedModelSummary, type DeviceFacts } from 'webchuan';
import 'webchuan/elements';
import type { BaichuanCompletion } from 'webchuan/elements';
import { setLibrary, setupCompare } from './compare.js';
import { askConsent, otherOrigin } from './consent.js';
import { setupEvaluate } from './evaluate.js';
import { DEFAULT_MODEL, MODELS, hostedConfig, profileFor, renderCards, verdictFor, type Card, type CatalogModel } from './models.js';

const params = new URLSearchParams(location.search);
/** `url` made absolute against the page, or undefined when it is absent or no URL. */
function absolute(url: string | null): string | undefined {
  try {
    return url ? new URL(url, location.href).href : undefined;
  } catch {
    return undefined;
  }
}
const chosen = params.get('model') ?? MODELS.find((m) => m.id === params.get('id'))?.url ?? DEFAULT_MODEL.url;
const modelUrl = new URL(chosen, location.href).href;
/** ?backend=webchuan (the WebGPU engine) or cpu (llama.cpp); otherwise the SDK's 'auto'. */
const backend = ['webchuan', 'cpu'].includes(params.get('backend') ?? '') ? (params.get('backend') as 'webchuan' | 'cpu') : undefined;
const current = MODELS.find((m) => new URL(m.url, location.href).href === modelUrl);
const profile = profileFor(current);
// A model or library on another origin, named by the link itself, waits for the visitor's consent.
const libUrl = absolute(params.get('lib'));
const foreignModel = params.get('model') && otherOrigin(modelUrl, location) ? modelUrl : undefined;
const foreignLib = otherOrigin(libUrl, location) ? libUrl : undefined;

document.querySelector('#model-intro')!.textContent = current?.id.startsWith('poetry-')
  ? 'The model loaded here is not Baichuan-7B. It is a tiny model (5.8 million parameters, a 3.6 MB download) with Baichuan-7B\'s exact architecture, trained in this repository on Tang poetry: it names the author of a 唐诗三百首 title and recites opening lines, and knows nothing else. Baichuan-7B itself is a 3.9 GB download; its card below says whether this device can run it.'
  : current
    ? `The model loaded here is ${current.name}.`
    : foreignModel
      ? `This link asks to load the artifact at ${modelUrl}, from another site: nothing is downloaded from there unless you agree above.`
      : `The model loaded here is the artifact at ${chosen}.`;

/** Points the elements and the Evaluate and Compare panels at the model (its download starts here). */
function startModel(): void {
  for (const el of document.querySelectorAll('baichuan-status, baichuan-completion, baichuan-chat')) {
    el.setAttribute('model', modelUrl);
    if (backend) el.setAttribute('backend', backend);
  }
  void setupEvaluate(modelUrl, backend);
  setupCompare(modelUrl);
}
if (!foreignModel) startModel();
if (libUrl && !foreignLib) setLibrary(libUrl);
if (foreignModel || foreignLib) {
  // Until then the status has no model to show, and the two panels that would load it cannot run.
  const waiting = [document.querySelector<HTMLElement>('#status')!];
  const runs = [...document.querySelectorAll<HTMLButtonElement>('#eval-form button[type="submit"], #compare-form button[type="submit"]')];
  if (foreignModel) {
    for (const el of waiting) el.hidden = true;
    for (const button of runs) button.disabled = true;
  }
  askConsent({ model: foreignModel, lib: foreignLib }, () => {
    for (const el of waiting) el.hidden = false;
    for (const button of runs) button.disabled = false;
    if (foreignModel) startModel();
    if (foreignLib) setLibrary(foreignLib);
  });
}
document.querySelector('#model-line')!.textContent = profile.line;
for (const id of ['#inline-field', '#compare-prompt']) document.querySelector<HTMLTextAreaElement>(id)!.value = profile.example;
document.querySelector<HTMLTextAreaElement>('#button-field')!.value = profile.continuation;

// The pre-filled autocomplete box shows the model at work without the visitor typing: one suggestion
// as soon as the model is ready (later ones follow the visitor's pauses, as on any page).
const status = document.querySelector('baichuan-status')!;
const suggestOnce = (event: Event) => {
  if ((event as CustomEvent<{ phase: string }>).detail.phase !== 'ready') return;
  status.removeEventListener('webchuan-progress', suggestOnce);
  void document.querySelector<BaichuanCompletion>('baichuan-completion#inline')!.suggest();
};
status.addEventListener('webchuan-progress', suggestOnce);
const chat = document.querySelector('baichuan-chat')!;
chat.placeholder = profile.placeholder;
chat.template = profile.template;
document.querySelector('#chat-note')!.textContent = profile.chatNote;

// The first-visit explanation stays until dismissed once (per site, like what it explains).
const SEEN = 'webchuan-demo:storage-explained';
const firstVisit = document.querySelector<HTMLElement>('#first-visit')!;
firstVisit.hidden = localStorage.getItem(SEEN) === '1';
document.querySelector('#first-visit-ok')!.addEventListener('click', () => {
  localStorage.setItem(SEEN, '1');
  firstVisit.hidden = true;
  document.querySelector<HTMLElement>('#models-title')?.focus();
});

function load(model: CatalogModel): void {
  const next = new URL(location.href);
  next.searchParams.delete('model');
  next.searchParams.set('id', model.id);
  location.assign(next);
}

let device: Promise<DeviceFacts> | undefined;
async function renderModelCards(cached: CachedModelSummary[]): Promise<void> {
  const list = document.querySelector<HTMLElement>('#model-cards')!;
  const cachedBytes = (m: CatalogModel) => cached.find((c) => c.id === modelId(m.url, location.href))?.bytes ?? 0;
  const cards: Card[] = MODELS.map((model) => ({ model, current: model === current, cachedBytes: cachedBytes(model) }));
  if (!list.dataset.ready) renderCards(list, cards, load); // "Checking…" until the first verdicts, never again
  device ??= describeDevice();
  // The adapter once; the storage left every time, since what was just stored counts against it.
  const facts = { ...(await device), storage: await storageEstimate() };
  await Promise.all(
    cards.map(async (card) => {
      card.hosted = card.current || (await hostedConfig(card.model)) !== undefined;
      try {
        card.verdict = await verdictFor(card.model, facts, card.cachedBytes);
      } catch (error) {
        card.problem = (error as Error).message;
      }
    }),
  );
  renderCards(list, cards, load);
  list.dataset.ready = 'true';
}

function renderCache(rows: CachedModelSummary[]): void {
  const list = document.querySelector('#cache')!;
  list.replaceChildren(
    ...rows.map((m) => {
      const li = Object.assign(document.createElement('li'), { className: 'card' });
      const name = MODELS.find((c) => modelId(c.url, location.href) === m.id)?.name;
      li.append(
        Object.assign(document.createElement('h3'), { textContent: name ?? m.id }),
        Object.assign(document.createElement('p'), { className: 'note url', textContent: m.id }),
        Object.assign(document.createElement('p'), { textContent: `${formatBytes(m.bytes)} of ${formatBytes(m.totalBytes)} stored${m.complete ? ', complete' : ', partial'}` }),
      );
      const button = Object.assign(document.createElement('button'), { textContent: 'Delete', type: 'button' });
      button.setAttribute('aria-label', `Delete ${name ?? m.id} from this browser`);
      button.addEventListener('click', async () => {
        await deleteModel(m.id);
        renderCache(await listCachedModels());
      });
      li.append(button);
      return li;
    }),
  );
  if (rows.length === 0) list.append(Object.assign(document.createElement('li'), { className: 'card empty', textContent: 'Nothing stored yet.' }));
}

/** The storage estimate; a browser that does not say its quota leaves storage unchecked (not "unlimited"). */
function storageEstimate(): Promise<DeviceFacts['storage']> {
  return navigator.storage?.estimate?.().then((e) => (e.quota === undefined ? undefined : { quota: e.quota, usage: e.usage ?? 0 }), () => undefined) ?? Promise.resolve(undefined);
}

/** The storage this site uses and may still use, read again after every download and reply. */
async function renderStorage(): Promise<void> {
  const dd = document.querySelector('#storage-left');
  const storage = await storageEstimate();
  if (dd && storage) dd.textContent = `${formatBytes(Math.max(0, storage.quota - storage.usage))} more (${formatBytes(storage.usage)} used)`;
}

/** The adapter as describeDevice() saw it: one adapter request for the cards and this list. */
async function renderDevice(): Promise<void> {
  const dl = document.querySelector('#device')!;
  const add = (term: string, value: string) => {
    const dd = Object.assign(document.createElement('dd'), { textContent: value });
    dl.append(Object.assign(document.createElement('dt'), { textContent: term }), dd);
    return dd;
  };
  device ??= describeDevice();
  const { adapter, storage, cpu } = await device;
  if (storage) add('Storage this site may use', '').id = 'storage-left';
  void renderStorage();
  if (cpu) {
    const threads = cpu.threads ? `${Math.max(1, Math.floor(cpu.cores / 2))} threads (cross-origin isolated)` : '1 thread (the page is not cross-origin isolated)';
    add('CPU path', cpu.wasm ? `llama.cpp, ${cpu.memory64 ? 'default' : 'compat'} build, ${threads}; probe ${(cpu.probeBytesPerSecond / 1e9).toFixed(2)} GB/s` : 'unavailable (WebAssembly without SIMD or exceptions)');
  }
  if (adapter === undefined) {
    add('WebGPU', 'not available in this browser');
    return;
  }
  if (adapter === null) {
    add('WebGPU', 'available, but no GPU adapter');
    return;
  }
  const limit = (name: keyof typeof adapter.limits) => formatBytes(adapter.limits[name] ?? 0);
  const features = [...adapter.features];
  add('Adapter', [adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' · ') || 'unknown');
  add('shader-f16', features.includes('shader-f16') ? 'yes' : 'no (q4f16_1 still runs: scales are unpacked in the shader)');
  add('Largest storage buffer', limit('maxStorageBufferBindingSize'));
  add('Largest buffer', limit('maxBufferSize'));
  add('Workgroup storage', limit('maxComputeWorkgroupStorageSize'));
  add('Features', features.sort().join(', ') || 'none');
}

async function refresh(): Promise<void> {
  const cached = await listCachedModels();
  renderCache(cached);
  void renderStorage();
  await renderModelCards(cached);
}

// The cache changes when a download progresses or finishes, and after a reply (nothing else writes it).
let pending: Promise<void> | undefined;
const refreshSoon = () => {
  pending ??= new Promise<void>((resolve) => setTimeout(resolve, 250)).then(() => {
    pending = undefined;
    return refresh(); // the cards say what is stored, and the storage left decides a verdict
  });
};
document.addEventListener('webchuan-progress', refreshSoon);
document.addEventListener('webchuan-done', refreshSoon);

void refresh();
void renderDevice();
