// The demo's models and quiz, copied from the repository into public/ before Vite runs: every
// catalog entry with an `artifact` folder goes to public/models/<id>/ (its catalog `url`), the poetry
// quiz to public/quiz/ (the Evaluate panel's questions). Copied, not generated, so the page serves
// exactly the committed bytes the catalog's sizes and the CLI's figures describe.
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const demo = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(demo, '../..');
const catalog = JSON.parse(readFileSync(join(root, 'models/catalog.json'), 'utf8'));

const models = join(demo, 'public/models');
mkdirSync(models, { recursive: true });
for (const m of catalog.models) {
  if (!m.artifact) continue;
  const out = join(models, m.id);
  rmSync(out, { recursive: true, force: true });
  cpSync(join(root, m.artifact), out, { recursive: true });
  console.log(`demo: ${m.artifact} → public/models/${m.id}/`);
}
// Earlier builds generated a random model here; it is no longer in the catalog, so it must not ship.
// Only that folder goes: anything else in public/models/ (a converted Baichuan-7B) is the user's.
rmSync(join(models, 'tiny-random'), { recursive: true, force: true });

const quizSource = join(root, 'models/poetry/data/quiz');
const quiz = join(demo, 'public/quiz');
rmSync(quiz, { recursive: true, force: true });
cpSync(quizSource, quiz, { recursive: true });
// A page cannot list a folder: an index names the subjects and their files.
const subjects = readdirSync(join(quizSource, 'dev')).filter((f) => f.endsWith('_dev.csv')).map((f) => f.slice(0, -'_dev.csv'.length)).sort();
writeFileSync(join(quiz, 'index.json'), `${JSON.stringify({ split: 'val', subjects }, null, 1)}\n`);
console.log(`demo: models/poetry/data/quiz → public/quiz/ (${subjects.join(', ')})`);
