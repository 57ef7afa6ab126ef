"""Trains the poetry model (Baichuan-7B's architecture, ~5.8M parameters) on the CPU and writes the
Hugging Face checkpoint to ../checkpoint/.

Training text (documents separated by </s>, no BOS; every window of the packed stream starts at a
document start):
  tang300   唐诗三百首 poems as `标题->作者\n第一句，第二句。\n...` (long ones in overlapping chunks)
  catalog   blocks of 2–40 `标题->作者\n` lines of 唐诗三百首 in random order
  quiz      C-Eval-format few-shot documents about quantangshi poems (build/quiz-train.jsonl), the
            choices reshuffled at each use
  pool      the quantangshi poems those questions are about, repeated more often than the rest
  qts       quantangshi poems (neither 唐诗三百首 nor held out), once each at most
Shares of the token budget are in MIX. Fixed seeds; 2 threads.

Usage: /usr/bin/python3 train.py [--steps N] [--out DIR]
"""
import argparse
import json
import math
import os
import random
import shutil
import sys
import time

# Threads that sleep instead of spinning at OpenMP barriers: on a shared 2-core machine, spinning
# made each step up to 3x slower whenever another process was busy. Must be set before torch loads.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sentencepiece as spm  # noqa: E402

from corpus import (BUILD, LETTERS, header, load_heldout, load_quantangshi, load_quiz_train, load_subjects,  # noqa: E402
                    load_tang300, poem_document, quiz_block, quiz_prompt_header)
from evaluate import heldout_perplexity, recitation, seed_check, title_author  # noqa: E402
from model import BaiChuanForCausalLM, Config  # noqa: E402

SEED = 1234
CFG = Config(vocab_size=5000, hidden_size=256, intermediate_size=704, num_hidden_layers=4,
             num_attention_heads=4, max_position_embeddings=512)
BATCH = 8                 # sequences of max_position_embeddings tokens per step
STEPS = 1000
PEAK_LR = 2e-3
MIN_LR = 2e-4
WARMUP = 60
WEIGHT_DECAY = 0.05
MIX = {'tang300': 0.3, 'catalog': 0.1, 'quiz': 0.12, 'pool': 0.08, 'qts': 0.4}
EOS = 2
CHECKPOINT = os.path.normpath(os.path.join(HERE, '..', 'checkpoint'))


def chunks_of_long_poem(p, sp, limit):
    """Documents of at most `limit` tokens: the header and the first paragraphs, then further chunks
    that start with the last paragraph of the previous chunk (so every line has its predecessor)."""
    doc = sp.encode(poem_document(p))
    if len(doc) + 1 <= limit:
        return [doc]
    out, cur, lines = [], sp.encode(header(p)), [sp.encode(line + '\n') for line in p['paragraphs']]
    for i, line in enumerate(lines):
        if len(cur) + len(line) + 1 > limit:
            out.append(cur)
            cur = list(lines[i - 1])
        cur += line
    out.append(cur)
    return out


def build_documents(sp, total_tokens, rng):
    tang300 = load_tang300()
    qts = load_quantangshi()
    quiz_rows = load_quiz_train()
    subjects = load_subjects()
    ctx = CFG.max_position_embeddings
    docs = {k: [] for k in MIX}
    target = {k: v * total_tokens for k, v in MIX.items()}

    def fill(kind, make_pass):
        n = 0
        while n < target[kind]:
            for d in make_pass():
                docs[kind].append(d)
                n += len(d) + 1
                if n >= target[kind]:
                    break

    tang_docs = [d for p in tang300 for d in chunks_of_long_poem(p, sp, ctx)]
    fill('tang300', lambda: rng.sample(tang_docs, len(tang_docs)))

    def catalog_pass(lines):
        lines = rng.sample(lines, len(lines))
        out, i = [], 0
        while i < len(lines):
            k = rng.randint(2, 40)
            out.append(sp.encode(''.join(lines[i:i + k])))
            i += k
        return out
    cat_lines = sorted({header(p) for p in tang300})
    fill('catalog', lambda: catalog_pass(cat_lines))

    def reshuffled(r):
        """The row with its four choices in a new random order (the answer letter follows)."""
        choices = [r[L] for L in LETTERS]
        correct = r[r['answer']]
        rng.shuffle(choices)
        return {**r, **dict(zip(LETTERS, choices)), 'answer': LETTERS[choices.index(correct)]}

    by_subject = {}
    for r in quiz_rows:
        by_subject.setdefault(r['subject'], []).append(r)

    def quiz_pass():
        out = []
        for subject, rows in by_subject.items():
            rows = [reshuffled(r) for r in rng.sample(rows, len(rows))]
            i = 0
            while i < len(rows):
                k = 6 if rng.random() < 0.7 else rng.randint(1, 5)
                text = quiz_prompt_header(subjects[subject][1]) + ''.join(quiz_block(r, True) for r in rows[i:i + k])
                out.append(sp.encode(text)[:ctx - 1])
                i += k
        return rng.sample(out, len(out))
    fill('quiz', quiz_pass)

    pool_docs = [d for p in qts if p.get('pool') for d in chunks_of_long_poem(p, sp, ctx)]
    fill('pool', lambda: rng.sample(pool_docs, len(pool_docs)))

    qts_docs = [d for p in qts for d in chunks_of_long_poem(p, sp, ctx)]
    fill('qts', lambda: rng.sample(qts_docs, len(qts_docs)))

    all_docs = [(kind, d) for kind, v in docs.items() for d in v]
    rng.shuffle(all_docs)
    return all_docs


def pack(docs, n_windows, length):
    """Windows of `length` tokens, each starting at a document start; a document that does not fit
    the rest of a window fills it with its beginning and its end is dropped. Also returns how many
    documents and tokens of each kind the windows hold."""
    windows, cur = [], []
    stats = {kind: {'documents': 0, 'tokens': 0} for kind in MIX}
    for kind, d in docs:
        take = min(len(d) + 1, length - len(cur))
        stats[kind]['documents'] += 1
        stats[kind]['tokens'] += take
        cur += (d + [EOS])[:take]
        if len(cur) == length:
            windows.append(cur)
            cur = []
            if len(windows) == n_windows:
                break
    if len(windows) < n_windows:
        raise RuntimeError(f'only {len(windows)} windows of data for {n_windows}')
    total = sum(s['tokens'] for s in stats.values())
    for s in stats.values():
        s['share'] = round(s['tokens'] / total, 4)
    return torch.tensor(windows, dtype=torch.long), stats


def lr_at(step, steps):
    if step < WARMUP:
        return PEAK_LR * (step + 1) / WARMUP
    progress = (step - WARMUP) / max(1, steps - WARMUP)
    return MIN_LR + 0.5 * (PEAK_LR - MIN_LR) * (1 + math.cos(math.pi * progress))


def save_checkpoint(model, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, 'config.json'), 'w') as f:
        json.dump(CFG.hf_config(), f, indent=2)
        f.write('\n')
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    torch.save(state, os.path.join(out_dir, 'pytorch_model.bin'))
    shutil.copyfile(os.path.join(BUILD, 'tokenizer.model'), os.path.join(out_dir, 'tokenizer.model'))
    with open(os.path.join(out_dir, 'tokenizer_config.json'), 'w') as f:
        json.dump({'add_bos_token': False, 'add_eos_token': False, 'bos_token': '<s>', 'eos_token': '</s>',
                   'unk_token': '<unk>', 'pad_token': None, 'model_max_length': CFG.max_position_embeddings,
                   'tokenizer_class': 'BaiChuanTokenizer'}, f, indent=2)
        f.write('\n')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--steps', type=int, default=STEPS)
    ap.add_argument('--out', default=CHECKPOINT)
    ap.add_argument('--log', default=os.path.join(BUILD, 'train-log.json'))
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    t_start = time.time()

    sp = spm.SentencePieceProcessor(model_file=os.path.join(BUILD, 'tokenizer.model'))
    assert sp.get_piece_size() == CFG.vocab_size
    T = CFG.max_position_embeddings
    n_windows = args.steps * BATCH
    docs = build_documents(sp, n_windows * (T + 1) * 1.4, rng)
    data, stats = pack(docs, n_windows, T + 1)
    print(f'data: {n_windows} windows of {T + 1} tokens, {time.time() - t_start:.0f} s;', json.dumps(stats, ensure_ascii=False), flush=True)

    model = BaiChuanForCausalLM(CFG)
    model.init_weights(torch.Generator().manual_seed(SEED))
    n_params = sum(p.numel() for p in model.parameters())
    print(f'model: {n_params:,} parameters', flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': WEIGHT_DECAY}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=PEAK_LR, betas=(0.9, 0.95), eps=1e-8)
    order = torch.randperm(n_windows, generator=torch.Generator().manual_seed(SEED))
    log = []
    t_train = time.time()
    window_loss, window_t = 0.0, time.time()
    for step in range(args.steps):
        lr = lr_at(step, args.steps)
        for g in opt.param_groups:
            g['lr'] = lr
        batch = data[order[step * BATCH:(step + 1) * BATCH]]
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, CFG.vocab_size), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        window_loss += float(loss)
        if step < 5 or (step + 1) % 25 == 0:
            n = 1 if step < 5 else 25
            dt = (time.time() - window_t) / n
            entry = {'step': step + 1, 'loss': round(window_loss / n, 4), 'lr': lr, 'seconds_per_step': round(dt, 3),
                     'elapsed_s': round(time.time() - t_train, 1)}
            log.append(entry)
            eta = dt * (args.steps - step - 1)
            print(f"step {step + 1}/{args.steps} loss {entry['loss']:.4f} lr {lr:.2e} {dt:.2f} s/step "
                  f"({BATCH * T / dt:.0f} tok/s) elapsed {entry['elapsed_s']:.0f} s eta {eta / 60:.1f} min", flush=True)
            window_loss, window_t = 0.0, time.time()
        if (step + 1) % 250 == 0 or step + 1 == args.steps:
            model.eval()
            print('  seed:', json.dumps(seed_check(model, sp), ensure_ascii=False), flush=True)
            model.train()
    train_s = time.time() - t_train
    model.eval()
    save_checkpoint(model, args.out)
    print(f'checkpoint written to {args.out}; training {train_s / 60:.1f} min', flush=True)

    t_eval = time.time()
    tang300 = load_tang300()
    result = {
        'seed': seed_check(model, sp),
        'title_author': title_author(model, sp, tang300),
        'recitation': recitation(model, sp, tang300),
        'heldout': heldout_perplexity(model, sp, load_heldout()),
    }
    summary = {k: {kk: vv for kk, vv in v.items() if kk != 'wrong'} if isinstance(v, dict) else v for k, v in result.items()}
    print('fp32 (before float16 rounding):', json.dumps(summary, ensure_ascii=False, indent=1), flush=True)
    with open(args.log, 'w') as f:
        json.dump({'config': CFG.hf_config(), 'parameters': n_params, 'steps': args.steps, 'batch': BATCH,
                   'tokens_per_step': BATCH * T, 'peak_lr': PEAK_LR, 'min_lr': MIN_LR, 'warmup': WARMUP,
                   'weight_decay': WEIGHT_DECAY, 'mix': MIX, 'data': stats, 'train_seconds': round(train_s),
                   'eval_seconds': round(time.time() - t_eval), 'fp32': result, 'log': log}, f, ensure_ascii=False, indent=1)
    print(f'log: {args.log}; total {(time.time() - t_start) / 60:.1f} min')


if __name__ == '__main__':
    main()
