// Builds the simplified-Chinese data of the poetry model from the npm package chinese-poetry@2.0.1:
//   ../data/tang300.json          every poem of 唐诗三百首 (mengxue edition), simplified
//   ../data/heldout.json          200 quantangshi poems kept out of training (perplexity)
//   ../data/quiz/                 a C-Eval-layout quiz built from 唐诗三百首 (dev = 5 shots, val = the rest)
//   build/quantangshi.jsonl       the quantangshi poems the model trains on (not committed)
//   build/quiz-train.jsonl        quiz-format questions about quantangshi poems, for training (not committed)
// Everything is deterministic (fixed seeds, sorted inputs).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as OpenCC from 'opencc-js';

const here = dirname(fileURLToPath(import.meta.url));
const dataDir = join(here, '..', 'data');
const buildDir = join(here, 'build');
const dist = join(here, 'node_modules', 'chinese-poetry', 'dist');
const toCn = OpenCC.Converter({ from: 't', to: 'cn' });

const HELDOUT_COUNT = 200;
const QUIZ_POOL = 4000; // quantangshi poems the quiz-format training questions are about
const DEV_SHOTS = 5;
const LETTERS = ['A', 'B', 'C', 'D'];
const CJK = /[\u3400-\u9fff\uf900-\ufaff]/u;
const PUNCT = '，。？！；：、';
const CLAUSE_END = /[，。？！；：]/u;

// ---------- helpers ----------
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function shuffle(array, rand) {
  const a = [...array];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
function pick(array, rand) {
  return array[Math.floor(rand() * array.length)];
}
/** ASCII punctuation inside Chinese text → the full-width forms the rest of the text uses. */
function fullWidth(s) {
  return s.replace(/,/g, '，').replace(/\?/g, '？').replace(/!/g, '！').replace(/:/g, '：').replace(/;/g, '；');
}
/**
 * Paragraphs without editors' notes: `(明年 一作：年年)`, `（一作「萬里」）` (also when a note is split
 * over two paragraphs), `[爽]` → 爽; spaces removed. Returns null if nothing is left.
 */
function cleanParagraphs(paragraphs) {
  const SEP = '\u0001';
  let text = paragraphs.join(SEP);
  text = text.replace(/\s*[（(][^（）()]*[）)]/gu, '');
  text = text.replace(/[[\]［］]/gu, '');
  const out = text
    .split(SEP)
    .map((p) => fullWidth(p.replace(/\s+/gu, '')))
    .filter((p) => p.length > 0);
  return out.length ? out : null;
}
/** True if every character is a CJK ideograph or the usual poem punctuation (no □, 囗 placeholders, Latin, notes). */
function isCleanText(paragraphs) {
  for (const p of paragraphs) {
    if (!/[，。？！；：]$/u.test(p)) return false;
    for (const c of p) if (!(CJK.test(c) || PUNCT.includes(c) || '“”‘’《》'.includes(c))) return false;
    if (/[□囗]/u.test(p)) return false;
  }
  return true;
}
function simplify(s) {
  return toCn(s);
}
/** The clauses of a poem (text between punctuation marks), used to recognise the same poem in two editions. */
function clauses(paragraphs) {
  return paragraphs
    .join('')
    .split(/[，。？！；：、“”‘’《》]/u)
    .filter((c) => c.length >= 4);
}
/** First line as used by the recitation target: the text up to and including the first ，。？！；：. */
export function firstLine(paragraphs) {
  const text = paragraphs.join('');
  const m = CLAUSE_END.exec(text);
  return m ? text.slice(0, m.index + 1) : text;
}
function csvField(s) {
  const v = String(s);
  return /[",\n\r]/u.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}
function writeCsv(path, rows) {
  const header = ['id', 'question', 'A', 'B', 'C', 'D', 'answer'];
  const lines = [header.join(',')];
  rows.forEach((r, i) => lines.push([i, r.question, r.A, r.B, r.C, r.D, r.answer].map(csvField).join(',')));
  writeFileSync(path, `${lines.join('\n')}\n`);
}
/** A question with the correct choice at `letter` and the distractors in the other places (order from rand). */
function mcq(question, correct, distractors, letter, rand) {
  const others = shuffle(distractors, rand);
  const row = { question };
  let k = 0;
  for (const L of LETTERS) row[L] = L === letter ? correct : others[k++];
  row.answer = letter;
  return row;
}
/** n distinct items of pool, none in `exclude`, chosen with rand. */
function distinct(pool, n, exclude, rand) {
  const out = [];
  const seen = new Set(exclude);
  for (const x of shuffle(pool, rand)) {
    if (seen.has(x)) continue;
    seen.add(x);
    out.push(x);
    if (out.length === n) return out;
  }
  throw new Error(`not enough distinct items (${out.length} of ${n})`);
}
function countBy(items, key) {
  const m = new Map();
  for (const it of items) m.set(key(it), (m.get(key(it)) ?? 0) + 1);
  return m;
}

// ---------- 唐诗三百首 ----------
const mengxue = JSON.parse(readFileSync(join(dist, 'mengxue', 'tangshisanbaishou.json'), 'utf8'));
const tang300Raw = [];
for (const group of mengxue.content) {
  for (const p of group.content) {
    const paragraphs = cleanParagraphs(p.paragraphs.map(simplify));
    if (!paragraphs || !isCleanText(paragraphs)) throw new Error(`唐诗三百首: cannot clean ${p.chapter}: ${JSON.stringify(paragraphs)}`);
    const poem = { title: simplify(p.chapter).trim(), author: simplify(p.author).trim(), paragraphs, form: simplify(group.type) };
    if (p.subchapter) poem.subtitle = simplify(p.subchapter).trim();
    tang300Raw.push(poem);
  }
}
// Identical entries (same title, author and text) are kept once.
const seenPoem = new Set();
const tang300 = tang300Raw.filter((p) => {
  const key = `${p.title}|${p.author}|${p.paragraphs.join('')}`;
  if (seenPoem.has(key)) return false;
  seenPoem.add(key);
  return true;
});
const authorsOfTitle = new Map();
for (const p of tang300) authorsOfTitle.set(p.title, new Set([...(authorsOfTitle.get(p.title) ?? []), p.author]));
const poemsOfKey = countBy(tang300, (p) => `${p.title}->${p.author}`);
for (const p of tang300) {
  // The title alone does not say who wrote it (杂诗: 王维 / 佚名, 宫词: 张祜 / 顾况 / 薛逢, ...).
  if (authorsOfTitle.get(p.title).size > 1) p.ambiguousAuthor = true;
  // The same title and author name more than one poem (隋宫 by 李商隐, twice).
  if (poemsOfKey.get(`${p.title}->${p.author}`) > 1) p.sharedTitle = true;
  p.firstLine = firstLine(p.paragraphs);
}
const tang300Authors = [...new Set(tang300.map((p) => p.author))];

// ---------- 全唐诗 ----------
const qtsDir = join(dist, 'quantangshi');
const qtsFiles = readdirSync(qtsDir)
  .filter((f) => /^poet\.tang\.\d+\.json$/u.test(f))
  .sort((a, b) => Number(a.match(/\d+/u)[0]) - Number(b.match(/\d+/u)[0]));
let qtsTotal = 0;
const qts = [];
for (const f of qtsFiles) {
  for (const p of JSON.parse(readFileSync(join(qtsDir, f), 'utf8'))) {
    qtsTotal++;
    const paragraphs = cleanParagraphs(p.paragraphs.map(simplify));
    const title = simplify(p.title ?? '').replace(/\s+/gu, ' ').trim();
    const author = simplify(p.author ?? '').trim();
    if (!paragraphs || !isCleanText(paragraphs) || !title || !author) continue;
    if (![...title].every((c) => CJK.test(c) || ' ·、，'.includes(c)) || ![...author].every((c) => CJK.test(c))) continue;
    const len = paragraphs.join('').length;
    if (len < 10 || len > 1200) continue;
    qts.push({ title, author, paragraphs });
  }
}
// Poems that are (an edition of) a 唐诗三百首 poem: any clause of 5+ characters shared.
const tang300Clauses = new Set(tang300.flatMap((p) => clauses(p.paragraphs)).filter((c) => c.length >= 5));
const tang300Titles = new Set(tang300.map((p) => p.title));
const nearTang300 = (p) => tang300Titles.has(p.title) || clauses(p.paragraphs).some((c) => c.length >= 5 && tang300Clauses.has(c));
const textCount = countBy(qts, (p) => p.paragraphs.join(''));
const general = qts.filter((p) => !nearTang300(p));

// Held-out poems: unique text, 20–200 characters, chosen with seed 1.
const heldCandidates = general.filter((p) => textCount.get(p.paragraphs.join('')) === 1 && p.paragraphs.join('').length >= 20 && p.paragraphs.join('').length <= 200);
const heldout = shuffle(heldCandidates, mulberry32(1)).slice(0, HELDOUT_COUNT);
const heldClauses = new Set(heldout.flatMap((p) => clauses(p.paragraphs)).filter((c) => c.length >= 5));
// Training poems: no clause shared with a held-out poem (quantangshi holds variant copies of many poems).
const train = general.filter((p) => !clauses(p.paragraphs).some((c) => c.length >= 5 && heldClauses.has(c)));

// Quiz-format training questions are about a pool of quantangshi poems whose title names one poem and
// one author in the whole corpus (so the answer is well defined); train.py repeats these poems more often.
const titleCount = countBy(qts, (p) => p.title);
const poolCandidates = train.filter((p) => {
  const len = p.paragraphs.join('').length;
  return titleCount.get(p.title) === 1 && !['佚名', '无名氏'].includes(p.author) && len >= 20 && len <= 160 && p.title.length <= 12;
});
const pool = shuffle(poolCandidates, mulberry32(2)).slice(0, QUIZ_POOL);
const poolSet = new Set(pool);

// ---------- quiz ----------
const SUBJECTS = {
  tang_poetry_author: ['Tang Poetry Author', '唐诗作者', 'Humanities'],
  tang_poetry_first_line: ['Tang Poetry First Line', '唐诗首句', 'Humanities'],
  tang_poetry_line: ['Tang Poetry Line Source', '唐诗出处', 'Humanities'],
};
const firstClause = (p) => firstLine(p.paragraphs).slice(0, -1);

/** Questions of every subject about `poems`, distractors from `authorPool` / the poems themselves. */
function buildQuestions(poems, authorPool, seed, { ambiguous = () => false } = {}) {
  const out = {};
  // Author: one question per title whose author is unambiguous (each title once).
  {
    const rand = mulberry32(seed);
    const seen = new Set();
    const items = shuffle(
      poems.filter((p) => !ambiguous(p) && p.author !== '佚名' && !seen.has(p.title) && seen.add(p.title)),
      rand,
    );
    out.tang_poetry_author = items.map((p, i) =>
      mcq(`《${p.title}》的作者是谁？`, p.author, distinct(authorPool.filter((a) => a !== '佚名'), 3, [p.author], rand), LETTERS[i % 4], rand),
    );
  }
  // First line: "<author>《<title>》的第一句是哪一句？", distractors: first clauses of equal length.
  {
    const rand = mulberry32(seed + 1);
    const keyCount = countBy(poems, (p) => `${p.title}->${p.author}`);
    const items = shuffle(poems.filter((p) => keyCount.get(`${p.title}->${p.author}`) === 1), rand);
    const byLength = new Map();
    for (const p of poems) byLength.set(firstClause(p).length, [...(byLength.get(firstClause(p).length) ?? []), firstClause(p)]);
    out.tang_poetry_first_line = [];
    for (const p of items) {
      const same = byLength.get(firstClause(p).length);
      const others = [...new Set(same)].filter((c) => c !== firstClause(p));
      if (others.length < 3) continue;
      const i = out.tang_poetry_first_line.length;
      out.tang_poetry_first_line.push(mcq(`${p.author}《${p.title}》的第一句是哪一句？`, firstClause(p), distinct(others, 3, [], rand), LETTERS[i % 4], rand));
    }
  }
  // Line → poem: a line (one paragraph) chosen at random, "出自哪首诗？", distractors: other titles of the same form.
  {
    const rand = mulberry32(seed + 2);
    const titleCountHere = countBy(poems, (p) => p.title);
    const items = shuffle(poems.filter((p) => titleCountHere.get(p.title) === 1), rand);
    const lineLen = (p) => p.paragraphs[0].length;
    out.tang_poetry_line = items.map((p, i) => {
      const line = pick(p.paragraphs, rand);
      const titles = poems.filter((q) => q !== p && lineLen(q) === lineLen(p)).map((q) => `《${q.title}》`);
      const pool2 = titles.length >= 3 ? titles : poems.filter((q) => q !== p).map((q) => `《${q.title}》`);
      return mcq(`“${line}”出自哪首诗？`, `《${p.title}》`, distinct(pool2, 3, [`《${p.title}》`], rand), LETTERS[i % 4], rand);
    });
  }
  return out;
}

const quiz = buildQuestions(tang300, tang300Authors, 300, { ambiguous: (p) => p.ambiguousAuthor });
const poolAuthors = [...new Set(pool.map((p) => p.author))];
const quizTrain = buildQuestions(pool, poolAuthors, 1000);

// ---------- write ----------
mkdirSync(join(dataDir, 'quiz', 'dev'), { recursive: true });
mkdirSync(join(dataDir, 'quiz', 'val'), { recursive: true });
mkdirSync(buildDir, { recursive: true });
const json = (v) => `${JSON.stringify(v, null, 1)}\n`;
writeFileSync(join(dataDir, 'tang300.json'), json(tang300));
writeFileSync(join(dataDir, 'heldout.json'), json(heldout));
writeFileSync(join(dataDir, 'quiz', 'subject_mapping.json'), json(SUBJECTS));
for (const [subject, rows] of Object.entries(quiz)) {
  writeCsv(join(dataDir, 'quiz', 'dev', `${subject}_dev.csv`), rows.slice(0, DEV_SHOTS));
  writeCsv(join(dataDir, 'quiz', 'val', `${subject}_val.csv`), rows.slice(DEV_SHOTS));
}
writeFileSync(join(buildDir, 'quantangshi.jsonl'), train.map((p) => JSON.stringify(poolSet.has(p) ? { ...p, pool: true } : p)).join('\n') + '\n');
writeFileSync(
  join(buildDir, 'quiz-train.jsonl'),
  Object.entries(quizTrain)
    .flatMap(([subject, rows]) => rows.map((r) => JSON.stringify({ subject, ...r })))
    .join('\n') + '\n',
);
const stats = {
  tang300: { entries: tang300Raw.length, kept: tang300.length, titles: authorsOfTitle.size, authors: tang300Authors.length,
    ambiguousTitles: [...authorsOfTitle].filter(([, a]) => a.size > 1).map(([t, a]) => `${t}: ${[...a].join(' / ')}`) },
  quantangshi: { poems: qtsTotal, clean: qts.length, nearTang300: qts.length - general.length, heldout: heldout.length, train: train.length,
    trainChars: train.reduce((n, p) => n + p.paragraphs.join('').length, 0), quizPool: pool.length },
  quiz: Object.fromEntries(Object.entries(quiz).map(([s, r]) => [s, { dev: Math.min(DEV_SHOTS, r.length), val: Math.max(0, r.length - DEV_SHOTS),
    answers: Object.fromEntries(LETTERS.map((L) => [L, r.slice(DEV_SHOTS).filter((x) => x.answer === L).length])) }])),
  quizTrain: Object.fromEntries(Object.entries(quizTrain).map(([s, r]) => [s, r.length])),
};
writeFileSync(join(buildDir, 'stats.json'), json(stats));
console.log(JSON.stringify(stats, null, 1));
