// The Evaluate panel: the poetry quiz (C-Eval layout, copied to quiz/ by the build) scored in this tab
// by webchuan/eval on the same engine the elements use, with the protocol `webchuan eval` runs on the
// command line — so the same limit gives the same questions and the same accuracy there.
import { engineFor } from 'webchuan/elements';
import { evaluateEngine, parseCsv, questionsFromRows, type EvalSummary, type Subject } from 'webchuan/eval';

interface QuizIndex {
  split: string;
  subjects: string[];
}

const QUIZ = new URL('quiz/', location.href);

async function fetchText(path: string): Promise<string> {
  const response = await fetch(new URL(path, QUIZ));
  if (!response.ok) throw new Error(`quiz/${path}: HTTP ${response.status}`);
  return response.text();
}

/** Subjects as the CLI's loadDataset reads them: dev shots, the scored split, the Chinese title. */
async function loadSubjects(index: QuizIndex, names: string[], mapping: Record<string, string[]>): Promise<Subject[]> {
  return Promise.all(
    names.map(async (name) => {
      const [dev, scored] = await Promise.all([fetchText(`dev/${name}_dev.csv`), fetchText(`${index.split}/${name}_${index.split}.csv`)]);
      return { name, title: mapping[name]?.[1] ?? name, dev: questionsFromRows(parseCsv(dev), `${name}_dev.csv`), questions: questionsFromRows(parseCsv(scored), `${name}_${index.split}.csv`) };
    }),
  );
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

export async function setupEvaluate(modelUrl: string, backend?: 'webchuan' | 'cpu'): Promise<void> {
  const form = document.querySelector<HTMLFormElement>('#eval-form')!;
  const box = document.querySelector<HTMLElement>('#eval-subjects')!;
  const status = document.querySelector<HTMLElement>('#eval-status')!;
  const progress = document.querySelector<HTMLProgressElement>('#eval-progress')!;
  const run = document.querySelector<HTMLButtonElement>('#eval-run')!;
  const stop = document.querySelector<HTMLButtonElement>('#eval-stop')!;
  const table = document.querySelector<HTMLTableElement>('#eval-results')!;
  let index: QuizIndex;
  let mapping: Record<string, string[]>;
  try {
    [index, mapping] = await Promise.all([fetchText('index.json').then((t) => JSON.parse(t) as QuizIndex), fetchText('subject_mapping.json').then((t) => JSON.parse(t) as Record<string, string[]>)]);
  } catch (error) {
    status.textContent = `The quiz is not available: ${(error as Error).message}`;
    run.disabled = true;
    return;
  }
  box.replaceChildren(
    ...index.subjects.map((name) => {
      const label = document.createElement('label');
      const input = Object.assign(document.createElement('input'), { type: 'checkbox', name: 'subject', value: name, checked: true });
      label.append(input, ` ${mapping[name]?.[1] ?? name} (${mapping[name]?.[0] ?? name})`);
      return label;
    }),
  );

  let controller: AbortController | undefined;
  stop.addEventListener('click', () => controller?.abort(new DOMException('Stopped', 'AbortError')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void (async () => {
      const names = [...box.querySelectorAll<HTMLInputElement>('input:checked')].map((i) => i.value);
      const limit = Number(form.querySelector<HTMLInputElement>('#eval-limit')!.value);
      if (names.length === 0 || !Number.isInteger(limit) || limit < 1) {
        status.textContent = 'Pick at least one subject and a whole number of questions.';
        return;
      }
      controller = new AbortController();
      run.disabled = true;
      stop.disabled = false;
      table.hidden = true;
      progress.hidden = false;
      progress.value = 0;
      status.textContent = 'Loading the model and the questions…';
      try {
        const [engine, subjects] = await Promise.all([engineFor(modelUrl, { backend }).get(), loadSubjects(index, names, mapping)]);
        const summary = await evaluateEngine(engine, subjects, {
          protocol: 'ceval',
          shots: 5,
          limit,
          signal: controller.signal,
          onProgress: (done, total, subject) => {
            progress.max = total;
            progress.value = done;
            status.textContent = `${done} of ${total} questions (${mapping[subject]?.[1] ?? subject})`;
          },
        });
        show(table, summary, mapping);
        status.textContent = `Done: ${summary.questions} questions in ${summary.seconds.toFixed(1)} s.`;
      } catch (error) {
        status.textContent = (error as Error).name === 'AbortError' ? 'Stopped.' : `Evaluation failed: ${(error as Error).message}`;
      } finally {
        run.disabled = false;
        stop.disabled = true;
        progress.hidden = true;
        controller = undefined;
      }
    })();
  });
}

function show(table: HTMLTableElement, summary: EvalSummary, mapping: Record<string, string[]>): void {
  table.tBodies[0]!.replaceChildren(
    ...summary.subjects.map((s) => {
      const tr = document.createElement('tr');
      tr.dataset.subject = s.name;
      tr.dataset.accuracy = String(s.accuracy);
      tr.append(Object.assign(document.createElement('th'), { scope: 'row', textContent: mapping[s.name]?.[1] ?? s.name }));
      for (const text of [pct(s.accuracy), `${s.correct} / ${s.scored}`]) tr.append(Object.assign(document.createElement('td'), { textContent: text }));
      return tr;
    }),
  );
  // The exact figures, for a test to compare with the CLI's JSON summary.
  table.dataset.macroAccuracy = String(summary.macroAccuracy);
  table.dataset.choices = JSON.stringify(summary.subjects.map((s) => s.questions.map((q) => q.choice)));
  table.querySelector('#eval-average')!.textContent = pct(summary.macroAccuracy);
  table.querySelector('#eval-total')!.textContent = `${summary.subjects.reduce((n, s) => n + s.correct, 0)} / ${summary.subjects.reduce((n, s) => n + s.scored, 0)}`;
  table.hidden = false;
}
