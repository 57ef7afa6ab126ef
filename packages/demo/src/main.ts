// The demo: the three elements on one model (from the catalog, or ?model=<url>), a cache panel and a
// device panel. Everything model-related runs in the SDK's shared worker.
import { deleteModel, formatBytes, listCachedModels, type Usage } from 'webchuan';
import 'webchuan/elements';
import catalog from '../../../models/catalog.json';
import { setupCompare } from './compare.js';

interface CatalogModel {
  id: string;
  name: string;
  url: string;
  source: string;
  sizeBytes: number;
  gpuMemoryBytes: number;
}

const models = catalog.models as CatalogModel[];
const params = new URLSearchParams(location.search);
const fallback = models.find((m) => (m as { default?: boolean }).default)!;
const chosen = params.get('model') ?? models.find((m) => m.id === params.get('id'))?.url ?? fallback.url;
const modelUrl = new URL(chosen, location.href).href;

const picker = document.querySelector<HTMLSelectElement>('#model-picker')!;
for (const m of models) {
  const option = new Option(`${m.name} — ${formatBytes(m.sizeBytes)} download, ${formatBytes(m.gpuMemoryBytes)} GPU`, m.id);
  option.selected = new URL(m.url, location.href).href === modelUrl;
  picker.append(option);
}
if (params.get('model')) picker.append(new Option(`Custom: ${chosen}`, '', true, true));
picker.addEventListener('change', () => {
  const next = new URL(location.href);
  next.searchParams.delete('model');
  next.searchParams.set('id', picker.value);
  location.assign(next);
});
const current = models.find((m) => new URL(m.url, location.href).href === modelUrl);
document.querySelector('#model-note')!.textContent = current?.source ?? `Artifact at ${chosen}`;

for (const el of document.querySelectorAll('baichuan-status, baichuan-completion, baichuan-chat')) el.setAttribute('model', modelUrl);

const speed = document.querySelector('#speed')!;
document.addEventListener('webchuan-done', (event) => {
  const usage = (event as CustomEvent<{ usage?: Usage }>).detail.usage;
  if (usage) speed.textContent = `Last run: ${usage.completion_tokens} tokens, prefill ${usage.extra.prefill_tokens_per_s.toFixed(1)} tok/s, decode ${usage.extra.decode_tokens_per_s.toFixed(1)} tok/s.`;
  void renderCache();
});
document.addEventListener('webchuan-progress', () => void renderCache());

async function renderCache(): Promise<void> {
  const body = document.querySelector('#cache tbody')!;
  const rows = await listCachedModels();
  body.replaceChildren(
    ...rows.map((m) => {
      const tr = document.createElement('tr');
      const cells = [m.id, `${formatBytes(m.bytes)} of ${formatBytes(m.totalBytes)}`, m.complete ? 'yes' : 'partial'];
      for (const text of cells) tr.append(Object.assign(document.createElement('td'), { textContent: text }));
      const button = Object.assign(document.createElement('button'), { textContent: 'Delete', type: 'button' });
      button.setAttribute('aria-label', `Delete ${m.id} from this browser`);
      button.addEventListener('click', async () => {
        await deleteModel(m.id);
        await renderCache();
      });
      const td = document.createElement('td');
      td.append(button);
      tr.append(td);
      return tr;
    }),
  );
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    tr.append(Object.assign(document.createElement('td'), { textContent: 'Nothing stored yet.', colSpan: 4 }));
    body.append(tr);
  }
}

async function renderDevice(): Promise<void> {
  const dl = document.querySelector('#device')!;
  const add = (term: string, value: string) => dl.append(Object.assign(document.createElement('dt'), { textContent: term }), Object.assign(document.createElement('dd'), { textContent: value }));
  if (!navigator.gpu) return add('WebGPU', 'not available in this browser');
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return add('WebGPU', 'available, but no GPU adapter');
  const info = adapter.info;
  add('Adapter', [info.vendor, info.architecture, info.description].filter(Boolean).join(' · ') || 'unknown');
  add('shader-f16', adapter.features.has('shader-f16') ? 'yes' : 'no (q4f16_1 still runs: scales are unpacked in the shader)');
  add('Largest storage buffer', formatBytes(adapter.limits.maxStorageBufferBindingSize));
  add('Largest buffer', formatBytes(adapter.limits.maxBufferSize));
  add('Workgroup storage', formatBytes(adapter.limits.maxComputeWorkgroupStorageSize));
  add('Features', [...adapter.features].sort().join(', ') || 'none');
}

void renderCache();
void renderDevice();
setupCompare(modelUrl);
