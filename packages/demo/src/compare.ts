// "Compare engines": one prompt, greedy, on every engine this page can run the model on — our WebGPU
// kernels and the CPU path (llama.cpp) always, WebLLM when a model library for the artifact is given —
// one after the other, with their speeds side by side. WebLLM (webchuan/webllm and its worker) is
// downloaded only when a library is given and this panel runs.
import { createEngine, type BackendName, type Completion } from 'webchuan';

interface Row {
  backend: BackendName;
  result?: Completion;
  seconds?: number;
  error?: string;
}

const ENGINES: { backend: BackendName; label: string }[] = [
  { backend: 'webchuan', label: 'webchuan on WebGPU (our WGSL kernels)' },
  { backend: 'cpu', label: 'webchuan on the CPU (llama.cpp)' },
  { backend: 'webllm', label: 'WebLLM (TVM-compiled library)' },
];

const HEADINGS = ['Engine', 'Prefill tok/s', 'Decode tok/s', 'First token', 'Text'];

/** Fills in the library's URL (the link's ?lib=, once it may be used: main.ts asks first for another origin's). */
export function setLibrary(url: string): void {
  const lib = document.querySelector<HTMLInputElement>('#compare-lib');
  if (lib) lib.value = url;
}

export function setupCompare(modelUrl: string): void {
  const form = document.querySelector<HTMLFormElement>('#compare-form');
  if (!form) return;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(modelUrl, form);
  });
}

async function run(modelUrl: string, form: HTMLFormElement): Promise<void> {
  const button = form.querySelector('button')!;
  const prompt = form.querySelector<HTMLTextAreaElement>('#compare-prompt')!.value;
  const maxTokens = Number(form.querySelector<HTMLInputElement>('#compare-tokens')!.value) || 16;
  const modelLib = form.querySelector<HTMLInputElement>('#compare-lib')!.value.trim();
  const rows: Row[] = [];
  button.disabled = true;
  try {
    // WebLLM needs a library compiled for this artifact: without one it is not a row at all.
    for (const { backend } of ENGINES.filter((e) => e.backend !== 'webllm' || modelLib)) {
      const row: Row = { backend };
      rows.push(row);
      render(rows, backend);
      try {
        if (backend === 'webllm') await import('webchuan/webllm');
        // Disposed before the other engine loads (the page's elements may keep webchuan's copy of the model).
        const engine = await createEngine({ model: modelUrl, backend, ...(backend === 'webllm' ? { modelLib } : {}) });
        try {
          const t0 = performance.now();
          row.result = await engine.completions.create({ prompt, max_tokens: maxTokens, temperature: 0 });
          row.seconds = (performance.now() - t0) / 1000;
        } finally {
          await engine.dispose();
        }
      } catch (error) {
        row.error = (error as Error).message;
      }
    }
  } finally {
    button.disabled = false;
    render(rows);
  }
}

function render(rows: Row[], running?: BackendName): void {
  const body = document.querySelector('#compare-results tbody')!;
  body.replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement('tr');
      const u = row.result?.usage;
      const label = ENGINES.find((e) => e.backend === row.backend)!.label;
      const cells = row.error
        ? [label, '—', '—', '—', row.error]
        : u
          ? [label, u.extra.prefill_tokens_per_s.toFixed(2), u.extra.decode_tokens_per_s.toFixed(2), `${u.extra.time_to_first_token_s.toFixed(2)} s`, row.result!.choices[0]!.text]
          : [label, '…', '…', '…', row.backend === running ? 'Running…' : ''];
      // Model output is text: textContent, never markup. data-label: the column's name where a
      // narrow screen stacks the cells (style.css).
      cells.forEach((text, i) => {
        const td = Object.assign(document.createElement('td'), { textContent: text });
        td.dataset.label = HEADINGS[i]!;
        tr.append(td);
      });
      return tr;
    }),
  );
}
