"""The poetry model's measurements (PyTorch, greedy), used by train.py and reference.py.

- seed:        `登鹳雀楼->王之涣\n夜雨寄北->` greedy-continues with 李商隐.
- title→author: `登鹳雀楼->王之涣\n<title>->` (shot `静夜思->李白\n` for 登鹳雀楼 itself), greedy until
                the first newline (at most 10 tokens); exact match with the author. Over every
                唐诗三百首 title with one author (titles shared by several authors are left out).
- recitation:  `<title>-><author>\n` greedy (at most 40 tokens, until a newline); correct when the
                output starts with the poem's first line = its text up to and including the first
                ，。？！；：. Over all 320 poems; where title and author name two poems (隋宫, 李商隐)
                either poem's first line counts. Also reported: the whole first couplet (first
                paragraph, e.g. 白日依山尽，黄河入海流。).
- perplexity:  on data/heldout.json, exp of the mean NLL per token over all poems' bodies (the
                paragraphs, each followed by "\n", and </s>), (a) with the `标题->作者\n` header as
                unscored context, (b) the body alone (its first token unscored: no BOS).
- quiz:        C-Eval's few-shot protocol (see quiz_prompt) on the val split of every subject.
"""
import math

import torch
import torch.nn.functional as F

from corpus import LETTERS, first_line, header, load_quiz_split, load_subjects, quiz_block, quiz_prompt_header
from model import greedy

SEED_PROMPT = '登鹳雀楼->王之涣\n夜雨寄北->'
EOS = 2


def decode_line(sp, ids):
    text = sp.decode(ids)
    return text.split('\n')[0]


def stop_at_newline(sp):
    nl = sp.piece_to_id('\n')
    return lambda out: out[-1] in (nl, EOS)


def seed_check(model, sp):
    ids = sp.encode(SEED_PROMPT)
    out = greedy(model, ids, 8)
    text = sp.decode(out)
    return {'prompt': SEED_PROMPT, 'continuation': text, 'ok': text.startswith('李商隐')}


def title_author(model, sp, tang300):
    titles = {}
    for p in tang300:
        titles.setdefault(p['title'], set()).add(p['author'])
    rows = []
    for title, authors in titles.items():
        if len(authors) != 1:
            continue
        author = next(iter(authors))
        shot = '静夜思->李白\n' if title == '登鹳雀楼' else '登鹳雀楼->王之涣\n'
        out = greedy(model, sp.encode(f'{shot}{title}->'), 10, stop=stop_at_newline(sp))
        got = decode_line(sp, out)
        rows.append({'title': title, 'author': author, 'output': got, 'ok': got == author})
    correct = sum(r['ok'] for r in rows)
    return {'correct': correct, 'total': len(rows), 'accuracy': correct / len(rows),
            'wrong': [f"{r['title']}: {r['output']} (not {r['author']})" for r in rows if not r['ok']]}


def recitation(model, sp, tang300):
    by_key = {}
    for p in tang300:
        by_key.setdefault(header(p), []).append(p)
    rows = []
    for p in tang300:
        out = greedy(model, sp.encode(header(p)), 40, stop=stop_at_newline(sp))
        got = decode_line(sp, out)
        alts = by_key[header(p)]
        rows.append({
            'title': p['title'], 'author': p['author'], 'output': got,
            'first_line': any(got.startswith(first_line(q)) for q in alts),
            'first_couplet': any(got == q['paragraphs'][0] for q in alts),
        })
    n = len(rows)
    fl = sum(r['first_line'] for r in rows)
    fc = sum(r['first_couplet'] for r in rows)
    return {'correct': fl, 'total': n, 'accuracy': fl / n,
            'first_couplet_correct': fc, 'first_couplet_accuracy': fc / n,
            'wrong': [f"{r['title']}->{r['author']}: {r['output']}" for r in rows if not r['first_line']]}


@torch.no_grad()
def heldout_perplexity(model, sp, poems):
    ctx = model.cfg.max_position_embeddings
    totals = {'with_header': [0.0, 0], 'body_only': [0.0, 0]}
    for p in poems:
        body = sp.encode(''.join(line + '\n' for line in p['paragraphs'])) + [EOS]
        for key, prefix in (('with_header', sp.encode(header(p))), ('body_only', [])):
            ids = (prefix + body)[:ctx]
            logits = model(torch.tensor([ids]))[0].float()
            nll = F.cross_entropy(logits[:-1], torch.tensor(ids[1:]), reduction='none')
            start = max(len(prefix) - 1, 0)  # score the body tokens only (the first body token needs a prefix)
            totals[key][0] += float(nll[start:].sum())
            totals[key][1] += len(ids) - 1 - start
    return {k: {'perplexity': math.exp(s / n), 'mean_nll': s / n, 'tokens': n} for k, (s, n) in totals.items()}


def letter_ids(sp):
    ids = {}
    for L in LETTERS:
        enc = sp.encode('答案：' + L)
        assert sp.id_to_piece(enc[-1]) == L, f'{L} is not a single piece after 答案：'
        ids[L] = enc[-1]
    return ids


def quiz_prompt(subject_zh, dev, row, ctx, sp):
    """C-Eval's few-shot prompt; whole shots are dropped from the front until it fits the context."""
    for shots in range(len(dev), -1, -1):
        text = quiz_prompt_header(subject_zh) + ''.join(quiz_block(d, True) for d in dev[len(dev) - shots:]) + quiz_block(row, False)
        ids = sp.encode(text)
        if len(ids) <= ctx:
            return ids, shots
    raise ValueError('question alone exceeds the context window')


@torch.no_grad()
def quiz(model, sp):
    letters = letter_ids(sp)
    subjects = load_subjects()
    result = {'letter_ids': letters, 'subjects': {}}
    accs = []
    for subject, (_, zh, _) in subjects.items():
        dev = load_quiz_split(subject, 'dev')
        val = load_quiz_split(subject, 'val')
        rows = []
        for row in val:
            ids, shots = quiz_prompt(zh, dev, row, model.cfg.max_position_embeddings, sp)
            logits = model(torch.tensor([ids]))[0, -1].float()
            four = [float(logits[letters[L]]) for L in LETTERS]
            choice = LETTERS[max(range(4), key=lambda i: four[i])]
            rows.append({'id': int(row['id']), 'logits': four, 'choice': choice, 'answer': row['answer'],
                         'correct': choice == row['answer'], 'shots': shots, 'prompt_tokens': len(ids)})
        acc = sum(r['correct'] for r in rows) / len(rows)
        accs.append(acc)
        result['subjects'][subject] = {'name_zh': zh, 'accuracy': acc, 'correct': sum(r['correct'] for r in rows),
                                       'total': len(rows), 'shots_used': sorted({r['shots'] for r in rows}),
                                       'choices': {L: sum(r['choice'] == L for r in rows) for L in LETTERS},
                                       'questions': rows}
    result['average_accuracy'] = sum(accs) / len(accs)
    return result
